// Package roads is dispatchd's road network, assuming lon/lat WGS 84 points and great-circle metres
// (geo.Geographic): it imports an OpenStreetMap extract into a graph per vehicle profile, snaps points onto it,
// and answers travel times, tables and paths exactly and fast through contraction hierarchies (package ch).
//
// # Graph
//
// The graph's nodes are the OSM nodes where roads meet and where they end; the shape points between them are
// folded into their edge's geometry. That keeps the hierarchies small (a city's ways have several shape points
// per junction, and every node costs the contraction and every query), while the geometry is still there for
// snapping, which projects onto any segment of an edge, and for paths. An edge's length is the sum of its
// segments' great-circle metres.
//
// Every profile shares the nodes, edges and shapes; each has its own weights (milliseconds each way, 0 where it
// may not go). The e-bike rides the bicycle's graph and hierarchy: the two have the same access and one-way rules,
// and the e-bike's speed is ebikeFactor times the bicycle's on every way, so the fastest trip is the same and
// its duration is the bicycle's divided by ebikeFactor. Foot, bicycle, scooter and car have a hierarchy each.
//
// Of each profile's graph only the largest strongly connected component is kept, so that every two points
// snapped to it are joined both ways; what it dropped is in [Stats].
//
// # Access, one-way and speed rules
//
// A way is a road when it has a highway class and is not an area (area=yes), private (access=private), a
// ferry, or under construction, proposed or abandoned. Its class opens it by default to some profiles (no
// motor traffic on footways, paths and cycleways; no bicycles or walkers on motorways and motorroads; steps for
// walkers only); the access tags then apply from general to specific, the most specific that is set deciding:
// access, foot for walkers; access, vehicle, bicycle for bicycles; access, vehicle, motor_vehicle, moped for
// scooters; access, vehicle, motor_vehicle, motorcar for cars. yes, designated, permissive, destination, delivery
// and customers let in; no, private, agricultural, forestry and use_sidepath keep out.
//
// Scooters and cars obey oneway (yes, 1, true; -1 and reverse for the other way), implied on motorways, their
// links and roundabouts (junction=roundabout or circular). Bicycles obey it too unless oneway:bicycle says
// otherwise or the street has a contraflow lane or track (cycleway=opposite*,
// cycleway:left/right/both=opposite_lane or opposite_track, cycleway:*:oneway=no). Walkers ignore it.
//
// Motor vehicles drive at the road class's urban speed, or at maxspeed where it is given (km/h, mph, walk,
// or a country's implicit limit such as FR:urban → 50), capped at 45 km/h for a scooter and 130 km/h for a car.
// Bicycles ride at 16 km/h on roads, 18 on cycleways and 14 on paths; walkers walk at 5 km/h (3 on steps).
//
// # Points
//
// A point travels from its projection onto the nearest edge its profile may use (found with an R-tree over
// buckets of the edges' segments, ranked by metres in the plane tangent at the point), not from the nearest
// node: it enters the hierarchy as the edge's ends, each with the part of the edge still to ride. The distance from the point to its place on the road is
// walked at [WalkKMH] at both ends of a trip (the courier parks and walks). [Network.CheckPoint] refuses points
// farther than the snap limit from every road a walker may use.
//
// # Files
//
// [Prepare] writes a network to a prepared map file that [Open] loads in a fraction of the import's time; Open
// also imports a raw OSM extract (PBF or XML), telling the kinds apart by their first bytes. The file is
// versioned and each section checksummed (xxhash64), so a damaged, truncated, foreign or newer file fails with
// an error that says which.
//
// # Concurrency
//
// A Network is read-only once built and safe for concurrent use; each call borrows its search buffers from a
// pool.
package roads
