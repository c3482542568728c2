// luban-apps: the apps of a Luban install as data. Each app is one small file (its repository,
// image, GitOps paths, environments and build settings, docs/apps.md); luban-apps checks them
// and renders the EventSource, the Sensor and each app's Argo CD Applications, namespaces,
// project and Roles:
//
//	luban-apps check  --config deploy/install/config.env deploy/install/apps
//	luban-apps render --config deploy/install/config.env deploy/install/apps | kubectl apply -f -
//
// A mistake in an app file is refused with the app's name and file, and nothing is rendered.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/luban-buildpacks/luban/deploy/apps"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "luban-apps: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	usage := fmt.Errorf("usage: luban-apps check|render --config <config.env> <apps directory>")
	if len(args) == 0 || (args[0] != "check" && args[0] != "render") {
		return usage
	}
	flags := flag.NewFlagSet("luban-apps "+args[0], flag.ContinueOnError)
	config := flags.String("config", "", "the install's config.env (gitops-repo, namespaces)")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if *config == "" || flags.NArg() != 1 {
		return usage
	}
	site, err := apps.ReadConfig(*config)
	if err != nil {
		return err
	}
	list, err := apps.Load(flags.Arg(0))
	if err != nil {
		return err
	}
	out, err := apps.Render(list, site)
	if err != nil {
		return err
	}
	if args[0] == "check" {
		fmt.Printf("%d apps, all valid\n", len(list))
		return nil
	}
	_, err = os.Stdout.Write(out)
	return err
}
