//! Every place a Kubernetes pod spec names an image, in one list.
//!
//! Admission, platform-policy evaluation and (later) continuous validation all read images
//! through [`pod_spec_images`]; a field missing here is an image nobody checks. Current
//! Kubernetes (1.34) pulls images for:
//! - `initContainers[].image` (sidecars are init containers with `restartPolicy: Always`),
//! - `containers[].image`,
//! - `ephemeralContainers[].image` (`kubectl debug`, via the `ephemeralcontainers`
//!   subresource),
//! - `volumes[].image.reference` (ImageVolume: an OCI image mounted as a read-only volume).
//!
//! Knative Services (and Cloud Run's YAML) embed the same pod spec at
//! `spec.template.spec`, so the same fields apply there.

use serde_json::Value;

/// Where an image is named in a pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageField {
    InitContainer,
    Container,
    EphemeralContainer,
    ImageVolume,
}

/// Every image-bearing field, in the order images are reported.
pub const IMAGE_FIELDS: [ImageField; 4] = [
    ImageField::InitContainer,
    ImageField::Container,
    ImageField::EphemeralContainer,
    ImageField::ImageVolume,
];

impl ImageField {
    /// The list in the pod spec.
    pub fn list(self) -> &'static str {
        match self {
            ImageField::InitContainer => "initContainers",
            ImageField::Container => "containers",
            ImageField::EphemeralContainer => "ephemeralContainers",
            ImageField::ImageVolume => "volumes",
        }
    }

    /// The image of one list entry: `Some(Ok)` names one, `Some(Err)` is an entry that must
    /// name one and does not, `None` an entry that names no image (a volume of another type).
    fn image_of(self, entry: &Value) -> Option<Result<&str, &'static str>> {
        let (v, what) = match self {
            ImageField::ImageVolume => {
                let img = entry.get("image")?;
                (img.get("reference"), "image.reference")
            }
            _ => (entry.get("image"), "image"),
        };
        Some(match v.and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(what),
        })
    }
}

/// One image named by a pod spec, with the field that names it (`containers[0].image`), the
/// kind of entry and the entry's `name` (the container's, or the volume's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodImage {
    pub field: String,
    pub image: String,
    pub kind: ImageField,
    pub name: String,
}

/// Whether `spec` looks like a pod spec (holds any of the image-bearing lists).
pub fn is_pod_spec(spec: &Value) -> bool {
    IMAGE_FIELDS
        .iter()
        .filter(|f| **f != ImageField::ImageVolume)
        .any(|f| spec.get(f.list()).is_some_and(Value::is_array))
}

/// Every image `spec` names. An entry that must name an image and does not (a container
/// without `image`, an image volume without `reference`) is an error naming it: an image that
/// cannot be judged is refused, never skipped.
pub fn pod_spec_images(spec: &Value) -> Result<Vec<PodImage>, String> {
    let mut out = Vec::new();
    for field in IMAGE_FIELDS {
        let Some(list) = spec.get(field.list()).and_then(Value::as_array) else {
            continue;
        };
        for (i, entry) in list.iter().enumerate() {
            match field.image_of(entry) {
                None => {}
                Some(Ok(image)) => out.push(PodImage {
                    field: format!(
                        "{}[{i}].{}",
                        field.list(),
                        if field == ImageField::ImageVolume {
                            "image.reference"
                        } else {
                            "image"
                        }
                    ),
                    image: image.to_owned(),
                    kind: field,
                    name: entry
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                }),
                Some(Err(what)) => {
                    return Err(format!("{}[{i}] has no {what}", field.list()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_test_per_field() {
        for (field, spec, want, name) in [
            (
                ImageField::InitContainer,
                json!({"initContainers": [{"name": "i", "image": "a"}]}),
                "initContainers[0].image",
                "i",
            ),
            (
                ImageField::Container,
                json!({"containers": [{"name": "c", "image": "a"}]}),
                "containers[0].image",
                "c",
            ),
            (
                ImageField::EphemeralContainer,
                json!({"ephemeralContainers": [{"name": "d", "image": "a"}]}),
                "ephemeralContainers[0].image",
                "d",
            ),
            (
                ImageField::ImageVolume,
                json!({"volumes": [{"name": "v", "image": {"reference": "a", "pullPolicy": "Always"}}]}),
                "volumes[0].image.reference",
                "v",
            ),
        ] {
            let got = pod_spec_images(&spec).ok();
            assert_eq!(
                got,
                Some(vec![PodImage {
                    field: want.into(),
                    image: "a".into(),
                    kind: field,
                    name: name.into(),
                }]),
                "{field:?}"
            );
        }
        // Every field of the list is covered above.
        assert_eq!(IMAGE_FIELDS.len(), 4);
    }

    #[test]
    fn other_volumes_name_no_image_and_missing_images_are_errors() {
        let spec = json!({"containers": [{"name": "c", "image": "a"}],
                          "volumes": [{"name": "e", "emptyDir": {}}, {"name": "v", "image": {}}]});
        assert_eq!(
            pod_spec_images(&spec).err().as_deref(),
            Some("volumes[1] has no image.reference")
        );
        let spec = json!({"containers": [{"name": "c"}]});
        assert_eq!(
            pod_spec_images(&spec).err().as_deref(),
            Some("containers[0] has no image")
        );
        assert!(is_pod_spec(&json!({"containers": []})));
        assert!(!is_pod_spec(&json!({"replicas": 1})));
    }
}
