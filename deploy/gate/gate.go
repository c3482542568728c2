// Package main is luban-osv-gate: the vulnerability gate of the Luban build workflow. It runs
// osv-scanner offline on the app's uv.lock against the OSV database directory a site provides,
// and decides, from the findings, a severity threshold and the app's allow-list, whether the
// build may go on to be deployed. The decision (Evaluate) is a pure function of osv-scanner's
// JSON, the allow-list and the date.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Severity levels, by the CVSS base score bands (NVD's qualitative ratings).
type Severity int

const (
	Unknown Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = map[string]Severity{"low": Low, "medium": Medium, "moderate": Medium, "high": High, "critical": Critical}

func (s Severity) String() string {
	switch s {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return "unknown"
}

// ParseThreshold reads the gate's threshold: low, medium, high or critical.
func ParseThreshold(value string) (Severity, error) {
	name := strings.ToLower(strings.TrimSpace(value))
	s, ok := severityNames[name]
	if !ok || name == "moderate" {
		return Unknown, fmt.Errorf("the severity threshold %q is not one of low, medium, high, critical", value)
	}
	return s, nil
}

func fromScore(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return Unknown
}

// Allow is one accepted advisory: its id (or any alias), why, and until when.
type Allow struct {
	ID      string
	Reason  string
	expires time.Time
}

// AllowList is the app's `.luban/vulnerability-allowlist.toml`.
type AllowList struct {
	Allow []Allow
	// Unpinned are the requirements.txt packages accepted without one exact version; ID holds
	// the package's name.
	Unpinned []Allow
}

// UnpinnedEntry is the [[unpinned]] entry for a package, if any.
func (a AllowList) UnpinnedEntry(name string) *Allow {
	for i := range a.Unpinned {
		if strings.EqualFold(a.Unpinned[i].ID, name) {
			return &a.Unpinned[i]
		}
	}
	return nil
}

var (
	advisoryID  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]+$`)
	packageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// ParseAllowList reads the allow-list strictly: every entry needs an id, a reason and an
// expiry date; unknown keys are errors (a typo must not silently accept nothing, or all).
func ParseAllowList(file string, data []byte) (AllowList, error) {
	var raw struct {
		Allow []struct {
			ID      string     `toml:"id"`
			Reason  string     `toml:"reason"`
			Expires *time.Time `toml:"expires"`
		} `toml:"allow"`
		Unpinned []struct {
			Package string     `toml:"package"`
			Reason  string     `toml:"reason"`
			Expires *time.Time `toml:"expires"`
		} `toml:"unpinned"`
	}
	meta, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		return AllowList{}, fmt.Errorf("%s: %v", file, err)
	}
	if undecoded := meta.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, key := range undecoded {
			keys[i] = key.String()
		}
		return AllowList{}, fmt.Errorf("%s: unknown key(s) %s; an entry is [[allow]] with id, reason and expires, or [[unpinned]] with package, reason and expires", file, strings.Join(keys, ", "))
	}
	// checked is one entry once its id, reason and date are there.
	checked := func(where, id string, idOK bool, idRule, reason string, expires *time.Time) (Allow, error) {
		switch {
		case !idOK:
			return Allow{}, fmt.Errorf("%s: %q is not %s", where, id, idRule)
		case strings.TrimSpace(reason) == "":
			return Allow{}, fmt.Errorf("%s (%s): a reason is required", where, id)
		case expires == nil:
			return Allow{}, fmt.Errorf("%s (%s): an expiry date is required (expires = 2026-12-31)", where, id)
		}
		// A TOML date (`expires = 2026-12-31`): the day, whatever zone it was read in.
		year, month, day := expires.Date()
		return Allow{ID: id, Reason: reason, expires: time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}, nil
	}
	var list AllowList
	for i, entry := range raw.Allow {
		allow, err := checked(fmt.Sprintf("%s: [[allow]] entry %d: id", file, i+1), entry.ID,
			advisoryID.MatchString(entry.ID), "an advisory id (GHSA-…, CVE-…, PYSEC-…)", entry.Reason, entry.Expires)
		if err != nil {
			return AllowList{}, err
		}
		list.Allow = append(list.Allow, allow)
	}
	for i, entry := range raw.Unpinned {
		allow, err := checked(fmt.Sprintf("%s: [[unpinned]] entry %d: package", file, i+1), entry.Package,
			packageName.MatchString(entry.Package), "a package name", entry.Reason, entry.Expires)
		if err != nil {
			return AllowList{}, err
		}
		list.Unpinned = append(list.Unpinned, allow)
	}
	return list, nil
}

// The part of osv-scanner's JSON output the gate reads.
type scanOutput struct {
	Results []struct {
		Source struct {
			Path string `json:"path"`
		} `json:"source"`
		Packages []struct {
			Package struct {
				Name      string `json:"name"`
				Version   string `json:"version"`
				Ecosystem string `json:"ecosystem"`
			} `json:"package"`
			Vulnerabilities []advisory `json:"vulnerabilities"`
			Groups          []struct {
				IDs         []string `json:"ids"`
				Aliases     []string `json:"aliases"`
				MaxSeverity string   `json:"max_severity"`
			} `json:"groups"`
		} `json:"packages"`
	} `json:"results"`
}

type advisory struct {
	ID               string   `json:"id"`
	Aliases          []string `json:"aliases"`
	Summary          string   `json:"summary"`
	DatabaseSpecific struct {
		Severity string `json:"severity"`
	} `json:"database_specific"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// Finding is one advisory for one locked package.
type Finding struct {
	Package, Version string
	ID               string
	Aliases          []string
	Summary          string
	Severity         Severity
	Fixed            []string
	// Allowed is the allow-list entry that accepts it, if any and not expired.
	Allowed *Allow
	// Expired is an allow-list entry for it whose date has passed.
	Expired *Allow
}

// Blocks says whether the finding stops the build at this threshold. An advisory whose
// severity is unknown blocks: the gate fails closed.
func (f Finding) Blocks(threshold Severity) bool {
	return f.Allowed == nil && (f.Severity == Unknown || f.Severity >= threshold)
}

// Evaluate turns osv-scanner's JSON into findings, sorted by package and id.
func Evaluate(output []byte, allow AllowList, today time.Time) ([]Finding, error) {
	var scan scanOutput
	if err := json.Unmarshal(output, &scan); err != nil {
		return nil, fmt.Errorf("osv-scanner's output is not the JSON expected: %v", err)
	}
	var findings []Finding
	for _, result := range scan.Results {
		for _, pkg := range result.Packages {
			for _, vuln := range pkg.Vulnerabilities {
				f := Finding{
					Package: pkg.Package.Name, Version: pkg.Package.Version,
					ID: vuln.ID, Aliases: vuln.Aliases, Summary: vuln.Summary,
				}
				for _, group := range pkg.Groups {
					if contains(group.IDs, vuln.ID) || contains(group.Aliases, vuln.ID) {
						if score, err := strconv.ParseFloat(group.MaxSeverity, 64); err == nil {
							f.Severity = fromScore(score)
						}
					}
				}
				if f.Severity == Unknown {
					f.Severity = severityNames[strings.ToLower(vuln.DatabaseSpecific.Severity)]
				}
				for _, affected := range vuln.Affected {
					for _, r := range affected.Ranges {
						for _, event := range r.Events {
							if fixed, ok := event["fixed"]; ok && !contains(f.Fixed, fixed) {
								f.Fixed = append(f.Fixed, fixed)
							}
						}
					}
				}
				for i := range allow.Allow {
					entry := &allow.Allow[i]
					if entry.ID != vuln.ID && !contains(vuln.Aliases, entry.ID) {
						continue
					}
					if today.After(entry.expires) {
						f.Expired = entry
					} else {
						f.Allowed = entry
					}
				}
				findings = append(findings, f)
			}
		}
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].Package != findings[j].Package {
			return findings[i].Package < findings[j].Package
		}
		return findings[i].ID < findings[j].ID
	})
	return findings, nil
}

// Describe is what the gate prints for a finding.
func (f Finding) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s (%s severity)", f.Package, f.Version, f.ID, f.Severity)
	if len(f.Aliases) > 0 {
		fmt.Fprintf(&b, ", also %s", strings.Join(f.Aliases, ", "))
	}
	if f.Summary != "" {
		fmt.Fprintf(&b, "\n    %s", f.Summary)
	}
	switch {
	case f.Allowed != nil:
		fmt.Fprintf(&b, "\n    Accepted by the allow-list until %s: %s", f.Allowed.expires.Format("2006-01-02"), f.Allowed.Reason)
	case len(f.Fixed) > 0:
		fmt.Fprintf(&b, "\n    Fixed in %s: upgrade (`uv lock --upgrade-package %s`) and commit `uv.lock`.", strings.Join(f.Fixed, ", "), f.Package)
	default:
		b.WriteString("\n    No fixed version is known: remove the dependency, or accept the advisory in `.luban/vulnerability-allowlist.toml` with a reason and an expiry date.")
	}
	if f.Expired != nil && f.Allowed == nil {
		fmt.Fprintf(&b, "\n    The allow-list accepted it until %s; that date has passed: renew the entry with a new reason, or fix it.", f.Expired.expires.Format("2006-01-02"))
	}
	if f.Severity == Unknown && f.Allowed == nil {
		b.WriteString("\n    Its severity is unknown, which the gate treats as blocking.")
	}
	return b.String()
}

func contains(list []string, value string) bool {
	for _, v := range list {
		if v == value {
			return true
		}
	}
	return false
}
