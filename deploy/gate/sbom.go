package main

// `luban-osv-gate sbom`: the credential-free step that hands the build's SBOM to the signing
// step. The build phase can write anything on the shared volume, including a symbolic link
// where the SBOM should be; the step that signs holds the registry token and the cosign key,
// so it must never open a path there. This step opens the SBOM without following any link,
// caps its size, parses it as CycloneDX JSON and writes what it parsed again, container-local,
// for Argo to pass on as an output parameter.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// MaxSBOMBytes keeps the SBOM well under what Argo can carry as an output parameter (it
// travels in a pod annotation, whose total is 256 KiB).
const MaxSBOMBytes = 192 << 10

// errNoSBOM says the file (or a directory on its way) does not exist.
var errNoSBOM = errors.New("no SBOM")

// ReadBeneath reads root/rel, opening each component with O_NOFOLLOW so that no symbolic link
// is followed anywhere on the path, and refuses anything but a regular file of at most max
// bytes. A component that does not exist gives errNoSBOM.
func ReadBeneath(root, rel string, max int64) ([]byte, error) {
	clean := filepath.Clean(rel)
	if filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("%q is not a path inside %s", rel, root)
	}
	dir, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", root, err)
	}
	parts := strings.Split(clean, "/")
	for i, part := range parts {
		last := i == len(parts)-1
		flags := syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK
		if !last {
			flags |= syscall.O_DIRECTORY
		}
		fd, err := syscall.Openat(dir, part, flags, 0)
		where := filepath.Join(parts[:i+1]...)
		if err != nil {
			// Only for the message: the open above has already refused.
			info, lerr := os.Lstat(filepath.Join(root, where))
			syscall.Close(dir)
			switch {
			case lerr == nil && info.Mode()&os.ModeSymlink != 0:
				return nil, fmt.Errorf("%s is a symbolic link: refused (the build phase wrote it, and a link can point at anything)", where)
			case errors.Is(err, syscall.ENOENT):
				return nil, fmt.Errorf("%w: %s does not exist", errNoSBOM, where)
			}
			return nil, fmt.Errorf("opening %s: %w", where, err)
		}
		syscall.Close(dir)
		dir = fd
	}
	file := os.NewFile(uintptr(dir), clean)
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): refused", clean, info.Mode().Type())
	}
	if info.Size() > max {
		return nil, fmt.Errorf("%s has %d bytes, more than the %d this step passes on", clean, info.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while it was read: refused", clean, max)
	}
	return data, nil
}

// ParseSBOM checks data is a CycloneDX JSON document (1.4 to 1.6) whose components each have
// a type and a name, and returns it encoded again from the parsed document: what is passed on
// is what was parsed, not the bytes the build wrote.
func ParseSBOM(data []byte) ([]byte, int, error) {
	var bom cdx.BOM
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&bom); err != nil {
		return nil, 0, fmt.Errorf("not CycloneDX JSON: %v", err)
	}
	if decoder.More() {
		return nil, 0, errors.New("not CycloneDX JSON: more than one document")
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, 0, fmt.Errorf("bomFormat is %q, not %q", bom.BOMFormat, cdx.BOMFormat)
	}
	switch bom.SpecVersion {
	case cdx.SpecVersion1_4, cdx.SpecVersion1_5, cdx.SpecVersion1_6:
	default:
		return nil, 0, fmt.Errorf("specVersion %s is not one this step reads (1.4 to 1.6)", bom.SpecVersion)
	}
	count := 0
	if bom.Components != nil {
		for i, component := range *bom.Components {
			if component.Type == "" || strings.TrimSpace(component.Name) == "" {
				return nil, 0, fmt.Errorf("component %d has no type or no name", i+1)
			}
		}
		count = len(*bom.Components)
	}
	var out bytes.Buffer
	encoder := cdx.NewBOMEncoder(&out, cdx.BOMFileFormatJSON)
	encoder.SetPretty(false)
	if err := encoder.EncodeVersion(&bom, bom.SpecVersion); err != nil {
		return nil, 0, err
	}
	return bytes.TrimSpace(out.Bytes()), count, nil
}

// runSBOM is the `sbom` subcommand: <out> gets the SBOM and <out>.present "true", or, when
// the build wrote no SBOM, an empty <out> and "false" with a line that says why.
func runSBOM(args []string) error {
	flags := flag.NewFlagSet("sbom", flag.ExitOnError)
	workspace := flags.String("workspace", "/workspace", "the shared volume the build wrote")
	path := flags.String("path", "layers/sbom/launch/luban_python-uv/venv/sbom.cdx.json", "the SBOM, relative to the workspace")
	out := flags.String("out", "/tmp/luban-sbom.json", "where to write the checked SBOM (container-local)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	present := func(value string) error { return os.WriteFile(*out+".present", []byte(value), 0o644) }
	data, err := ReadBeneath(*workspace, *path, MaxSBOMBytes)
	if errors.Is(err, errNoSBOM) {
		fmt.Printf("No dependency SBOM to attest (%v): luban/python-uv writes one for apps locked with uv.lock; a requirements.txt app has none yet.\n", err)
		if err := os.WriteFile(*out, nil, 0o644); err != nil {
			return err
		}
		return present("false")
	}
	if err != nil {
		return fmt.Errorf("the SBOM at %s: %v", *path, err)
	}
	sbom, components, err := ParseSBOM(data)
	if err != nil {
		return fmt.Errorf("the SBOM at %s: %v", *path, err)
	}
	if len(sbom) > MaxSBOMBytes {
		return fmt.Errorf("the SBOM at %s is %d bytes once parsed, more than the %d this step passes on", *path, len(sbom), MaxSBOMBytes)
	}
	if err := os.WriteFile(*out, sbom, 0o644); err != nil {
		return err
	}
	fmt.Printf("Checked the dependency SBOM (CycloneDX %s, %d components, %d bytes) for the signing step\n", specName(data), components, len(sbom))
	return present("true")
}

func specName(data []byte) string {
	var head struct {
		SpecVersion string `json:"specVersion"`
	}
	_ = json.Unmarshal(data, &head)
	return head.SpecVersion
}
