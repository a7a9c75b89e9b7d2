//! `docs/results.schema.json` is the schema the results types generate: regenerate it with
//! `UPDATE_SCHEMA=1 cargo test --test schema` after changing one.

use std::path::Path;

use llmsweep::results::schema;

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(schema::PATH)
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = schema::generate();
    let path = committed_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date with the results types (first difference at line {}: \
             committed {:?}, generated {:?}): regenerate it with \
             `UPDATE_SCHEMA=1 cargo test --test schema` and commit it",
            schema::PATH,
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            generated.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}
