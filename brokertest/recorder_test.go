package brokertest

import (
	"fmt"
	"testing"

	"github.com/heraldrt/herald"
)

// Waits return once deliveries from other goroutines arrive, in order.
func TestRecorderWaits(t *testing.T) {
	var r Recorder
	go func() {
		for i := 1; i <= 100; i++ {
			r.HandlePublication("ch", herald.Publication{Data: []byte(fmt.Sprint(i))})
		}
		r.HandleJoin("ch", herald.ClientInfo{Client: "c1"})
		r.HandleLeave("ch", herald.ClientInfo{Client: "c1"})
		r.HandleControl([]byte("{}"))
	}()
	pubs := r.WaitPublications(t, "ch", 100)
	for i, p := range pubs {
		if string(p.Data) != fmt.Sprint(i+1) {
			t.Fatalf("publication %d is %s", i, p.Data)
		}
	}
	if joins := r.WaitJoins(t, "ch", 1); !SameClient(joins[0], herald.ClientInfo{Client: "c1"}) {
		t.Fatalf("join %+v", joins[0])
	}
	r.WaitLeaves(t, "ch", 1)
	r.WaitControls(t, 1)
	if len(r.Publications("other")) != 0 {
		t.Fatal("publications recorded on a channel nobody published to")
	}
}
