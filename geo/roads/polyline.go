package roads

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// polylineScale is the encoded polyline's precision: 5 decimal places of a degree (about 1 m).
const polylineScale = 1e5

// EncodePolyline returns the line in the encoded polyline format that web maps read (precision 5): each point as
// latitude then longitude, rounded to 1e-5 degrees, each coordinate the signed difference from the previous
// point's, in 5-bit groups offset to printable ASCII. Points are orb.Point{lon, lat}.
func EncodePolyline(line orb.LineString) string {
	buf := make([]byte, 0, 8*len(line))
	var prevLat, prevLon int64
	for _, p := range line {
		lat := int64(math.Round(p[1] * polylineScale))
		lon := int64(math.Round(p[0] * polylineScale))
		buf = appendPolylineValue(buf, lat-prevLat)
		buf = appendPolylineValue(buf, lon-prevLon)
		prevLat, prevLon = lat, lon
	}
	return string(buf)
}

func appendPolylineValue(buf []byte, v int64) []byte {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	for u >= 0x20 {
		buf = append(buf, byte(0x20|(u&0x1f))+63)
		u >>= 5
	}
	return append(buf, byte(u)+63)
}

// DecodePolyline reads a line in the encoded polyline format (precision 5) back into orb.Point{lon, lat}
// points. It fails on a character outside the format's range, a value cut short, a latitude without its
// longitude, or a value too large to be a coordinate.
func DecodePolyline(s string) (orb.LineString, error) {
	var line orb.LineString
	var lat, lon int64
	for i := 0; i < len(s); {
		var d [2]int64
		for k := range d {
			var u uint64
			var shift uint
			for {
				if i >= len(s) {
					if k == 0 && shift == 0 {
						return nil, fmt.Errorf("roads: polyline: latitude without a longitude at byte %d", i)
					}
					return nil, fmt.Errorf("roads: polyline: value cut short at byte %d", i)
				}
				c := s[i]
				if c < 63 || c > 127 {
					return nil, fmt.Errorf("roads: polyline: byte %d (%q) is outside the format's range", i, c)
				}
				i++
				b := uint64(c - 63)
				if shift > 35 {
					return nil, fmt.Errorf("roads: polyline: value at byte %d is too large", i)
				}
				u |= (b & 0x1f) << shift
				shift += 5
				if b < 0x20 {
					break
				}
			}
			v := int64(u >> 1)
			if u&1 != 0 {
				v = ^v
			}
			d[k] = v
		}
		lat += d[0]
		lon += d[1]
		if lat > 90*polylineScale || lat < -90*polylineScale || lon > 180*polylineScale || lon < -180*polylineScale {
			return nil, fmt.Errorf("roads: polyline: point %d (lat %g, lon %g) is out of range", len(line),
				float64(lat)/polylineScale, float64(lon)/polylineScale)
		}
		line = append(line, orb.Point{float64(lon) / polylineScale, float64(lat) / polylineScale})
	}
	return line, nil
}
