module github.com/luban-buildpacks/luban/deploy/gate

go 1.25.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/CycloneDX/cyclonedx-go v0.9.2
)
