package synth_test

import (
	"fmt"
	"log"
	"time"

	"github.com/o2o-dispatch/dispatchd/sim/synth"
)

func ExampleGenerate() {
	spec, err := synth.Load("../scenarios/small-town.json")
	if err != nil {
		log.Fatal(err)
	}
	sc, err := synth.Generate(spec, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sc.Name, sc.Start.Format(time.RFC3339))
	fmt.Println(len(sc.Stores), "stores,", len(sc.Couriers), "couriers, promise", sc.Target)
	fmt.Println("first order:", sc.Orders[0].ID, "at store", sc.Orders[0].StoreID)
	// Output:
	// small-town 2026-01-05T11:00:00Z
	// 20 stores, 22 couriers, promise 35m0s
	// first order: o1 at store p1
}
