// Command reelkube-kstatus reads Kubernetes objects as a watch prints them and says, one JSON
// line per object, what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, the library Flux,
// kpt and the cli-utils applier judge readiness with) computes for each, beside the object's
// own status.phase, step, message and progress.
//
// Input on stdin: a stream of JSON objects, as `kubectl get rj NAME -w -o json` prints them,
// or watch events ({"type": "MODIFIED", "object": {...}}) from `--output-watch-events`.
// Output on stdout: one line per object (see Line). An object kstatus cannot judge is still a
// line, with its error in "error"; input that is not JSON ends the program with exit status 1.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// version is stamped by tests/cluster/build.sh (-X main.version=...).
var version = "dev"

// Line is what the program prints for one object.
type Line struct {
	// Type is the watch event's type (ADDED, MODIFIED, DELETED, ...); empty for a bare object.
	Type               string `json:"type,omitempty"`
	Name               string `json:"name"`
	ResourceVersion    string `json:"resourceVersion"`
	Generation         int64  `json:"generation"`
	ObservedGeneration *int64 `json:"observedGeneration"`
	// Kstatus is kstatus' verdict: InProgress, Current, Failed, Terminating, NotFound, Unknown.
	Kstatus        string `json:"kstatus"`
	KstatusMessage string `json:"kstatusMessage"`
	Phase          string `json:"phase"`
	Step           string `json:"step"`
	Message        string `json:"message"`
	Progress       *int64 `json:"progress"`
	Attempts       *int64 `json:"attempts"`
	Error          string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: kubectl get KIND NAME -w -o json | reelkube-kstatus")
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	err := run(os.Stdin, func(line Line) error {
		if err := json.NewEncoder(out).Encode(line); err != nil {
			return err
		}
		// Flushed per line: a reader follows the watch as it happens.
		return out.Flush()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "reelkube-kstatus:", err)
		os.Exit(1)
	}
}

// run decodes every object of in and hands its Line to emit, until the end of the input.
func run(in io.Reader, emit func(Line) error) error {
	decoder := json.NewDecoder(in)
	decoder.UseNumber() // integers stay integers, as unstructured.NestedInt64 needs
	for n := 1; ; n++ {
		var raw map[string]any
		err := decoder.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("object %d of the input is not a JSON object: %w", n, err)
		}
		if err := emit(describe(raw)); err != nil {
			return err
		}
	}
}

// describe computes the Line of one decoded object or watch event.
func describe(raw map[string]any) Line {
	var line Line
	obj := raw
	// A watch event wraps the object; an object always has apiVersion, an event never does.
	if inner, ok := raw["object"].(map[string]any); ok && raw["apiVersion"] == nil {
		line.Type, _ = raw["type"].(string)
		obj = inner
	}
	obj = numbersToInt64(obj).(map[string]any)
	u := &unstructured.Unstructured{Object: obj}
	line.Name = u.GetName()
	line.ResourceVersion = u.GetResourceVersion()
	line.Generation = u.GetGeneration()
	line.ObservedGeneration = nestedInt(obj, "status", "observedGeneration")
	line.Phase, _, _ = unstructured.NestedString(obj, "status", "phase")
	line.Step, _, _ = unstructured.NestedString(obj, "status", "step")
	line.Message, _, _ = unstructured.NestedString(obj, "status", "message")
	line.Progress = nestedInt(obj, "status", "progress")
	line.Attempts = nestedInt(obj, "status", "attempts")
	result, err := status.Compute(u)
	if err != nil {
		line.Kstatus = string(status.UnknownStatus)
		line.Error = err.Error()
		return line
	}
	line.Kstatus = result.Status.String()
	line.KstatusMessage = result.Message
	return line
}

func nestedInt(obj map[string]any, fields ...string) *int64 {
	value, found, err := unstructured.NestedInt64(obj, fields...)
	if !found || err != nil {
		return nil
	}
	return &value
}

// numbersToInt64 turns the decoder's json.Number values into int64 (or float64 when they have
// a fraction), the types unstructured objects hold, throughout maps and lists.
func numbersToInt64(value any) any {
	switch v := value.(type) {
	case map[string]any:
		for key, item := range v {
			v[key] = numbersToInt64(item)
		}
		return v
	case []any:
		for i, item := range v {
			v[i] = numbersToInt64(item)
		}
		return v
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	default:
		return v
	}
}
