package audit

import (
	"bufio"
	"encoding/json"
	"io"
)

// JSON writes the eval schema ({"results": [...]}, one result per audited
// object, exempt ones left out) followed by "summary", streaming: each
// result is written when the audit produces it.
type JSON struct {
	w     *bufio.Writer
	first bool
	err   error
}

// NewJSON returns a JSON report writing to w.
func NewJSON(w io.Writer) *JSON {
	j := &JSON{w: bufio.NewWriter(w), first: true}
	_, j.err = j.w.WriteString("{\n  \"results\": [")
	return j
}

// Add implements Report.
func (j *JSON) Add(r *Result) error {
	if j.err != nil {
		return j.err
	}
	b, err := json.MarshalIndent(r, "    ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n    "
	if j.first {
		sep, j.first = "\n    ", false
	}
	j.w.WriteString(sep)
	_, j.err = j.w.Write(b)
	return j.err
}

// Close implements Report.
func (j *JSON) Close(s *Summary) error {
	if j.err != nil {
		return j.err
	}
	b, err := json.MarshalIndent(s, "  ", "  ")
	if err != nil {
		return err
	}
	end := "\n  ],\n  \"summary\": "
	if j.first {
		end = "],\n  \"summary\": "
	}
	j.w.WriteString(end)
	j.w.Write(b)
	j.w.WriteString("\n}\n")
	return j.w.Flush()
}
