//! Every results.json a test reads is checked against the committed
//! `docs/results.schema.json` (compiled once per test binary): a writer that drifts from the
//! schema fails the test that read its file, naming the JSON path.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results.schema.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
    })
}

/// The first way `value` breaks the results schema, with its JSON path; `None` when it fits.
pub fn schema_error(value: &Value) -> Option<String> {
    validator().validate(value).err().map(|e| {
        let at = e.instance_path().to_string();
        let at = if at.is_empty() { "/".to_string() } else { at };
        format!("at {at}: {e}")
    })
}

/// Panics unless `value`, read from `file`, fits `docs/results.schema.json`.
pub fn assert_fits_schema(value: &Value, file: &Path) {
    if let Some(error) = schema_error(value) {
        panic!(
            "{} does not match docs/results.schema.json: {error}",
            file.display()
        );
    }
}

/// `file` (a results.json) parsed, after checking it against the schema.
pub fn read_checked(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
    assert_fits_schema(&value, file);
    value
}
