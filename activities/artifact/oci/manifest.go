package oci

import (
	"encoding/json"
	"fmt"
)

// Descriptor points at a blob from a manifest.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ImageManifest is the part of an OCI or Docker v2 image manifest this
// package's callers read.
type ImageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Image parses m as an image manifest; an index or a manifest list is an
// error, since it has no layers of its own.
func (m Manifest) Image() (ImageManifest, error) {
	switch m.MediaType {
	case MediaTypeOCIIndex, MediaTypeDockerManifestList:
		return ImageManifest{}, fmt.Errorf("manifest %s is an index (%s), not an image manifest", m.Digest, m.MediaType)
	}
	var im ImageManifest
	if err := json.Unmarshal(m.Body, &im); err != nil {
		return ImageManifest{}, fmt.Errorf("manifest %s is not JSON: %w", m.Digest, err)
	}
	if im.SchemaVersion != 2 {
		return ImageManifest{}, fmt.Errorf("manifest %s has schemaVersion %d, want 2", m.Digest, im.SchemaVersion)
	}
	return im, nil
}
