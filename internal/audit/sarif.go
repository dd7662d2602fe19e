package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// SARIF writes a SARIF 2.1.0 log with one run: one rule per policy, from
// its METADATA, and one result per finding, streaming. Findings in
// manifests have a physical location (file and the line of the field they
// name) so that CI can annotate pull requests; every finding has a
// logical location naming the object.
//
// A result's level follows the action admission resolves: deny is error,
// warn is warning, audit is note. Severity goes to the rule's
// security-severity property, which code scanning ranks by.
type SARIF struct {
	w     *bufio.Writer
	index map[string]int
	first bool
	err   error
}

// SARIFSchema is the schema URI written in the log.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	FullDescription      sarifMessage   `json:"fullDescription"`
	Help                 sarifMessage   `json:"help"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           *int              `json:"ruleIndex,omitempty"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region struct {
		StartLine int `json:"startLine"`
	} `json:"region"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// securitySeverity maps severities to code scanning's scale (critical is
// 9.0 and above, high 7.0 to 8.9, medium 4.0 to 6.9, low below).
var securitySeverity = map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}

// level maps an action to a SARIF level.
func level(a engine.Action) string {
	switch a {
	case engine.ActionDeny:
		return "error"
	case engine.ActionWarn:
		return "warning"
	}
	return "note"
}

// NewSARIF returns a SARIF report writing to w; the rules are written at
// once.
func NewSARIF(w io.Writer, m Meta) *SARIF {
	s := &SARIF{w: bufio.NewWriter(w), index: map[string]int{}, first: true}
	rules := make([]sarifRule, len(m.Policies))
	for i, p := range m.Policies {
		s.index[p.ID] = i
		rules[i] = sarifRule{
			ID:                   p.ID,
			ShortDescription:     sarifMessage{Text: p.Title},
			FullDescription:      sarifMessage{Text: p.Description},
			Help:                 sarifMessage{Text: p.Remediation, Markdown: "**" + p.Title + "**\n\n" + p.Description + "\n\n**Remediation:** " + p.Remediation},
			DefaultConfiguration: map[string]any{"level": level(p.Action)},
			Properties: map[string]any{
				"tags":              []string{"security", "kubernetes", p.Family},
				"security-severity": securitySeverity[p.Severity],
				"severity":          p.Severity,
				"action":            p.Action,
			},
		}
	}
	driver := map[string]any{
		"name":           "Tollgate",
		"informationUri": "https://github.com/tollgate-dev/tollgate",
		"rules":          rules,
	}
	if m.Version != "" {
		driver["semanticVersion"] = strings.TrimPrefix(m.Version, "v")
	}
	b, err := json.MarshalIndent(map[string]any{"driver": driver}, "      ", "  ")
	if err != nil {
		s.err = err
		return s
	}
	s.w.WriteString("{\n  \"$schema\": \"" + SARIFSchema + "\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n      \"tool\": ")
	s.w.Write(b)
	_, s.err = s.w.WriteString(",\n      \"results\": [")
	return s
}

// Add implements Report.
func (s *SARIF) Add(r *Result) error {
	for _, v := range r.Violations {
		if s.err != nil {
			return s.err
		}
		res := sarifResult{
			RuleID:  v.Policy,
			Level:   level(v.Action),
			Message: sarifMessage{Text: r.Object.String() + ": " + v.Message},
			PartialFingerprints: map[string]string{
				"tollgate/v1": fingerprint(v.Policy, r.Object.APIVersion, r.Object.Kind, r.Object.Namespace, r.Object.Name, v.Path),
			},
			Properties: map[string]any{"severity": v.Severity, "action": v.Action},
		}
		if v.Path != "" {
			res.Properties["path"] = v.Path
		}
		if i, ok := s.index[v.Policy]; ok {
			res.RuleIndex = &i
		}
		fq := r.Object.Kind + "/" + r.Object.Name
		if r.Object.Namespace != "" {
			fq = r.Object.Namespace + "/" + fq
		}
		loc := sarifLocation{LogicalLocations: []sarifLogical{{Name: r.Object.Name, FullyQualifiedName: fq, Kind: "object"}}}
		if r.Source != nil && r.Source.File != "-" {
			loc.PhysicalLocation = &sarifPhysical{}
			loc.PhysicalLocation.ArtifactLocation.URI = fileURI(r.Source.File)
			loc.PhysicalLocation.Region.StartLine = r.Line(v.Path)
		}
		res.Locations = []sarifLocation{loc}
		b, err := json.MarshalIndent(res, "        ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n        "
		if s.first {
			sep, s.first = "\n        ", false
		}
		s.w.WriteString(sep)
		_, s.err = s.w.Write(b)
	}
	return s.err
}

// Close implements Report: the run's properties hold the summary.
func (s *SARIF) Close(sum *Summary) error {
	if s.err != nil {
		return s.err
	}
	b, err := json.MarshalIndent(map[string]any{"summary": sum}, "      ", "  ")
	if err != nil {
		return err
	}
	end := "\n      ],\n      \"properties\": "
	if s.first {
		end = "],\n      \"properties\": "
	}
	s.w.WriteString(end)
	s.w.Write(b)
	s.w.WriteString("\n    }\n  ]\n}\n")
	return s.w.Flush()
}

// fileURI writes a manifest path as a URI reference: relative paths stay
// relative (to the repository, for code scanning), absolute ones become
// file URIs.
func fileURI(path string) string {
	slash := filepath.ToSlash(filepath.Clean(path))
	u := url.URL{Path: slash}
	if filepath.IsAbs(path) {
		u.Scheme = "file"
	}
	return u.String()
}

// fingerprint identifies a finding across runs, whatever its line.
func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}
