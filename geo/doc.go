// Package geo assumes points are lon/lat WGS 84 degrees and distances are in metres; a planar space serves projected benchmark coordinates (x/y metres).
//
// The package is the geometric leaf of dispatchd: it imports nothing else of
// the project, so the engine, the simulator and the benchmarks can all share
// the same notion of distance, travel time and "nearest".
//
// Three pieces live here:
//
//   - [Space] says how an [orb.Point] is read and measured. [Geographic] is the
//     default for live traffic (orb.Point{lon, lat} in degrees, great-circle
//     metres on a sphere of radius [orb.EarthRadius]); [Planar] is for data
//     sets already projected to metres, such as the Grubhub MDRP instances.
//   - [TravelModel] turns two points and a vehicle [Profile] into a duration.
//     [StraightLine] is the default estimate; [CeilMinutes] reproduces the MDRP
//     benchmark's rule so results can be compared with published ones.
//   - [Index] is a spatial index of moving points (couriers, stores, drop-offs)
//     keyed by id, answering k-nearest and radius queries ranked by true metres
//     with a deterministic tie rule.
//
// # Antimeridian
//
// The index stores points exactly as given, so its bounding boxes never wrap
// around ±180° of longitude: two couriers either side of the line share a box
// spanning almost the whole globe. Results stay exact, because
// [Space.BoxDistance] for [Geographic] measures longitude differences the short
// way round and great-circle distances wrap; what is lost is pruning, so a
// query near the line visits more of the tree than it would elsewhere.
// City-scale dispatch never meets the line, so no wrapping is attempted.
//
// # Concurrency
//
// Spaces and travel models are stateless or read-only after construction and
// may be shared between goroutines. An [Index] belongs to one goroutine; use
// [Index.Clone] to hand a snapshot to another.
package geo
