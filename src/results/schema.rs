//! The JSON Schema of results.json, `docs/results.schema.json`: derived (`schemars`) from
//! [`Report`] and every type it holds, their doc comments as the descriptions.
//!
//! The schema describes what this llmsweep *reads* as schema [`SCHEMA_VERSION`]: a field with
//! a default (`#[serde(default)]`, or an `Option`) is not required, so files written before
//! it existed validate too; unknown keys are allowed (except inside `host`, which refuses
//! them), so a file from a newer llmsweep of the same schema version does as well.
//!
//! After changing a results type, regenerate the committed file (one command):
//!
//! ```sh
//! UPDATE_SCHEMA=1 cargo test --test suite schema::
//! ```
//!
//! Without `UPDATE_SCHEMA`, that test fails while the file differs from [`generate`]. A type
//! that results.json gains needs `#[derive(JsonSchema)]` beside its serde derives.

use schemars::generate::SchemaSettings;
use schemars::Schema;

use super::model::{Report, SCHEMA_VERSION};

/// Where the schema is committed, relative to the repository root.
pub const PATH: &str = "docs/results.schema.json";

/// The schema's `$id`: it names the schema version, so a new version is a new id.
pub fn id() -> String {
    format!("urn:llmsweep:results:schema:{SCHEMA_VERSION}")
}

/// The schema as a value (JSON Schema draft 2020-12).
pub fn schema() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Report>();
    schema.insert("$id".into(), id().into());
    schema.insert("title".into(), "llmsweep results.json".into());
    schema.insert("x-llmsweep-schema-version".into(), SCHEMA_VERSION.into());
    schema.insert(
        "$comment".into(),
        "Generated from llmsweep's results types (src/results/schema.rs): do not edit; \
         regenerate with `UPDATE_SCHEMA=1 cargo test --test suite schema::`. schema_version \
         rises when a field is removed, renamed or changes meaning; adding an optional field \
         keeps it."
            .into(),
    );
    schema
}

/// The schema as `docs/results.schema.json` holds it: pretty-printed, with a trailing newline.
pub fn generate() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_itself_and_its_version() {
        let schema: serde_json::Value = serde_json::from_str(&generate()).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["$id"], id());
        assert_eq!(schema["x-llmsweep-schema-version"], SCHEMA_VERSION);
        assert!(generate().ends_with("}\n"));
    }

    #[test]
    fn a_constant_a_description_names_has_its_value() {
        let late = super::super::model::LATE_START_MS;
        assert!(generate().contains(&format!("more than {late} ms (`LATE_START_MS`)")));
    }
}
