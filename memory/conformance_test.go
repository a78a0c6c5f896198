package memory_test

import (
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/brokertest"
	"github.com/heraldrt/herald/memory"
)

func TestBrokerConformance(t *testing.T) {
	brokertest.RunBroker(t, func(*testing.T) herald.Broker { return memory.New() })
}

func TestPresenceConformance(t *testing.T) {
	brokertest.RunPresence(t, func(*testing.T) herald.Presence { return memory.NewPresence() })
}
