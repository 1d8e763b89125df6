module github.com/o2o-dispatch/dispatchd

go 1.26

require (
	github.com/paulmach/orb v0.14.0
	github.com/tidwall/rtree v1.10.0
)

require github.com/tidwall/geoindex v1.7.0 // indirect
