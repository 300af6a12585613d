package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/internal/telemetrytest"
	"github.com/apiguard/apiguard/internal/telemetry/otlp"
)

func TestInventoryEventsEncode(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	finding := &Event{Type: EventSensitiveField, Time: now, Route: "echo", Field: "headers.x-card", Class: "card_number",
		Signals: []string{SignalSensitiveDataExposed}}
	part := &Event{Type: EventInventory, Time: now, Route: "echo", Inventory: &InventoryPart{Route: "echo", Fields: []InventoryField{
		{Path: "headers.x-card", Types: []string{"string"}, Classes: []string{"card_number"}},
		{Path: "method", Types: []string{"string"}},
	}}}
	line, err := AppendLine(nil, finding)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"sensitive_field"`, `"route":"echo"`, `"field":"headers.x-card"`, `"class":"card_number"`, `"signals":["sensitive_data_exposed"]`} {
		if !strings.Contains(string(line), want) {
			t.Errorf("%s lacks %s", line, want)
		}
	}
	line, err = AppendLine(nil, part)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Type      string `json:"type"`
		Inventory struct {
			Route  string `json:"route"`
			Fields []struct {
				Path    string   `json:"path"`
				Types   []string `json:"types"`
				Classes []string `json:"classes"`
			} `json:"fields"`
		} `json:"inventory"`
	}
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if back.Type != EventInventory || back.Inventory.Route != "echo" || len(back.Inventory.Fields) != 2 ||
		back.Inventory.Fields[0].Classes[0] != "card_number" || back.Inventory.Fields[1].Classes != nil {
		t.Errorf("inventory event read back as %+v", back)
	}
	for _, e := range []*Event{finding, part} {
		rec, err := EncodeOTLPRecord(e, now.UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := otlp.Payload(otlp.Resource{Instance: "x"}, [][]byte{rec})
		if err != nil {
			t.Fatal(err)
		}
		telemetrytest.CheckOTLPJSONSpec(t, payload)
		for _, want := range []string{"apiguard." + e.Type, "echo"} {
			if !strings.Contains(string(rec), want) {
				t.Errorf("OTLP record lacks %q: %s", want, rec)
			}
		}
	}
}
