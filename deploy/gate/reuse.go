package main

// `luban-osv-gate reuse`: skip a build whose inputs were built before. The export tags each
// image it publishes `inputs-<digest of the build's inputs>` (the clone step's InputsDigest);
// beside the gates, this asks whether that tag exists and outputs its digest, and the build
// steps are skipped: a push that changed only what project.toml leaves out builds nothing.
// Once the gates passed, `reuse -publish <digest>` tags that digest with the workflow's name
// for it (the branch's or pull request's tag, or `latest`), as the export would have. It holds
// the push credentials and reads no file of the workspace: its inputs are the image name and
// the digests, all checked.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var inputsDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// InputsTag is the repository's tag for the build of these inputs.
func InputsTag(image, inputs string, options ...name.Option) (name.Tag, name.Reference, error) {
	if !inputsDigest.MatchString(inputs) {
		return name.Tag{}, nil, fmt.Errorf("the inputs' digest must be 64 hex digits, not %q", inputs)
	}
	published, err := name.ParseReference(image, options...)
	if err != nil {
		return name.Tag{}, nil, fmt.Errorf("image %q is not an image name: %v", image, err)
	}
	if _, byDigest := published.(name.Digest); byDigest {
		return name.Tag{}, nil, fmt.Errorf("image %q names a digest: the build publishes a tag", image)
	}
	return published.Context().Tag("inputs-" + inputs), published, nil
}

func runReuse(args []string) error {
	flags := flag.NewFlagSet("reuse", flag.ContinueOnError)
	image := flags.String("image", "", "the image the workflow publishes (repository[:tag])")
	inputs := flags.String("inputs", "", "the digest of the build's inputs (64 hex digits)")
	insecure := flags.String("insecure-registry", "", "registries reached over plain HTTP (comma-separated)")
	result := flags.String("result", "", "a file to write the reused digest to (empty: build)")
	tagOut := flags.String("tag", "", "a file to write the inputs' tag to, for the export")
	publish := flags.String("publish", "", "once the gates passed: tag this digest (the one found) with -image")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var options []name.Option
	ref, _ := name.ParseReference(*image)
	if ref != nil && *insecure != "" && slices.Contains(strings.Split(*insecure, ","), ref.Context().RegistryStr()) {
		options = append(options, name.Insecure)
	}
	tag, published, err := InputsTag(*image, *inputs, options...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	auth := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithContext(ctx)}
	if *publish != "" {
		return publishReused(tag, published, *publish, auth)
	}
	for file, text := range map[string]string{*result: "", *tagOut: tag.String()} {
		if file != "" {
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				return err
			}
		}
	}
	found, err := remote.Head(tag, auth...)
	var missing *transport.Error
	if errors.As(err, &missing) && missing.StatusCode == http.StatusNotFound {
		fmt.Printf("Build: no image of these inputs yet (%s)\n", tag)
		return nil
	} else if err != nil {
		return fmt.Errorf("can't ask the registry for %s: %v", tag, err)
	}
	fmt.Printf("Reuse %s: the inputs were built before (%s); nothing to build once the gates pass\n", found.Digest, tag)
	if *result != "" {
		return os.WriteFile(*result, []byte(found.Digest.String()), 0o644)
	}
	return nil
}

// publishReused gives the reused image the workflow's name for it (its tag, or `latest`), as
// the export would have published it; only after the gates passed, and only while the inputs'
// tag still names that digest.
func publishReused(tag name.Tag, published name.Reference, digest string, auth []remote.Option) error {
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("-publish must be an image digest (sha256:<64 hex>), not %q", digest)
	}
	found, err := remote.Head(tag, auth...)
	if err != nil {
		return fmt.Errorf("can't ask the registry for %s: %v", tag, err)
	}
	if found.Digest.String() != digest {
		return fmt.Errorf("%s now names %s, not %s, which the gates passed: run the workflow again", tag, found.Digest, digest)
	}
	descriptor, err := remote.Get(tag.Context().Digest(digest), auth...)
	if err != nil {
		return fmt.Errorf("can't read %s@%s: %v", tag.Context(), digest, err)
	}
	target := published.Context().Tag(published.Identifier())
	if err := remote.Tag(target, descriptor, auth...); err != nil {
		return fmt.Errorf("can't tag %s as %s: %v", digest, target, err)
	}
	fmt.Printf("Published %s as %s (reused: built before from the same inputs)\n", digest, target)
	return nil
}
