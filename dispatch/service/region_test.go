package service

import (
	"errors"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

func TestCheckRegion(t *testing.T) {
	for _, good := range []string{"default", "a", "Shanghai-Jingan_2", strings.Repeat("z", 64)} {
		if err := CheckRegion(good); err != nil {
			t.Fatalf("CheckRegion(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "a b", "a.b", "north/1", "é", strings.Repeat("z", 65), "x\x00"} {
		err := CheckRegion(bad)
		var e *dispatch.Error
		if !errors.As(err, &e) || e.Code != dispatch.EInvalid || e.Field != "region" {
			t.Fatalf("CheckRegion(%q) = %v, want invalid_argument naming region", bad, err)
		}
	}
}
