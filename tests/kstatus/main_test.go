package main

import (
	"strings"
	"testing"
)

// renderJob is a RenderJob as the API server prints it, with the given status (JSON) and
// metadata.generation 1.
func renderJob(status string) string {
	obj := `{"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob",
		"metadata": {"name": "reel", "namespace": "team-a", "generation": 1, "resourceVersion": "42"}`
	if status != "" {
		obj += `, "status": ` + status
	}
	return obj + "}"
}

func lines(t *testing.T, input string) []Line {
	t.Helper()
	var got []Line
	if err := run(strings.NewReader(input), func(l Line) error { got = append(got, l); return nil }); err != nil {
		t.Fatalf("run: %v", err)
	}
	return got
}

func TestKstatusOfEachStage(t *testing.T) {
	cases := []struct {
		name, status, kstatus, message, phase string
	}{
		// kstatus' rule for a custom resource without conditions: Current. A watch opened
		// before the operator's first write sees this.
		{"no status yet", "", "Current", "Resource is current", ""},
		{
			"queued, reconciling",
			`{"phase": "Queued", "observedGeneration": 1, "message": "Job reel-x created, waiting for its pod to run",
			  "conditions": [{"type": "Reconciling", "status": "True", "reason": "JobCreated",
			                  "message": "Job reel-x created, waiting for its pod to run"}]}`,
			"InProgress", "Job reel-x created, waiting for its pod to run", "Queued",
		},
		{
			"succeeded, ready",
			`{"phase": "Succeeded", "observedGeneration": 1, "step": "done", "progress": 100,
			  "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "done"}]}`,
			"Current", "Resource is Ready", "Succeeded",
		},
		{
			"failed, stalled",
			`{"phase": "Failed", "observedGeneration": 1,
			  "conditions": [{"type": "Ready", "status": "False", "reason": "InputNotFound", "message": "404"},
			                 {"type": "Stalled", "status": "True", "reason": "InputNotFound", "message": "404"}]}`,
			"Failed", "404", "Failed",
		},
		{
			"generation not observed yet",
			`{"phase": "Succeeded", "observedGeneration": 0,
			  "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "done"}]}`,
			"InProgress", "RenderJob generation is 1, but latest observed generation is 0", "Succeeded",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := lines(t, renderJob(c.status))
			if len(got) != 1 {
				t.Fatalf("want 1 line, got %d", len(got))
			}
			l := got[0]
			if l.Kstatus != c.kstatus || l.KstatusMessage != c.message || l.Phase != c.phase || l.Error != "" {
				t.Errorf("got (%q, %q, %q, error %q), want (%q, %q, %q)",
					l.Kstatus, l.KstatusMessage, l.Phase, l.Error, c.kstatus, c.message, c.phase)
			}
			if l.Name != "reel" || l.ResourceVersion != "42" || l.Generation != 1 {
				t.Errorf("metadata: %+v", l)
			}
		})
	}
}

func TestLiveFieldsAndWatchEvents(t *testing.T) {
	// Two objects back to back, pretty-printed as kubectl does: a bare one and a watch event.
	input := renderJob(`{"phase": "Running", "step": "rendering", "progress": 37, "attempts": 1,
		"message": "pod reel-x-abc is rendering", "observedGeneration": 1,
		"conditions": [{"type": "Reconciling", "status": "True", "reason": "Running", "message": "pod reel-x-abc is rendering"}]}`) +
		"\n" + `{"type": "DELETED", "object": ` + renderJob("") + "}"
	got := lines(t, input)
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got %d", len(got))
	}
	first := got[0]
	if first.Type != "" || first.Step != "rendering" || first.Message != "pod reel-x-abc is rendering" ||
		first.Progress == nil || *first.Progress != 37 || first.Attempts == nil || *first.Attempts != 1 ||
		first.ObservedGeneration == nil || *first.ObservedGeneration != 1 || first.Kstatus != "InProgress" {
		t.Errorf("first line: %+v", first)
	}
	second := got[1]
	if second.Type != "DELETED" || second.Name != "reel" || second.Progress != nil || second.Phase != "" {
		t.Errorf("watch event not unwrapped: %+v", second)
	}
}

func TestTerminatingObject(t *testing.T) {
	obj := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}}`
	got := lines(t, obj)
	if len(got) != 1 || got[0].Kstatus != "Terminating" {
		t.Fatalf("got %+v", got)
	}
}

func TestInputThatIsNotJSONIsAnError(t *testing.T) {
	err := run(strings.NewReader(renderJob("")+"\nNAME   PHASE\n"), func(Line) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "object 2 of the input is not a JSON object") {
		t.Fatalf("want an error naming object 2, got %v", err)
	}
}

func TestConditionsThatAreNotAListAreReported(t *testing.T) {
	got := lines(t, renderJob(`{"conditions": "Ready"}`))
	if len(got) != 1 || got[0].Kstatus != "Unknown" || got[0].Error == "" {
		t.Fatalf("want an Unknown line with an error, got %+v", got)
	}
}
