//! The README's promise: `sightline demo` starts, writes its key and tokens, and every curl
//! example in README.md answers what the README says it answers.

mod common;

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// `expected` matches `actual` when every field it shows matches: `"..."` is any value,
/// objects may have more fields than shown, arrays must be as long as shown.
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<()> {
    match (expected, actual) {
        (Value::String(s), _) if s == "..." => Ok(()),
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let got = got
                    .get(key)
                    .with_context(|| format!("{path}.{key} missing"))?;
                matches(value, got, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                bail!("{path}: {} items, README shows {}", got.len(), want.len());
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                matches(w, g, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => Ok(()),
        (w, g) if w == g => Ok(()),
        (w, g) => bail!("{path}: README shows {w}, got {g}"),
    }
}

/// (command, expected answer) pairs: each ```sh block that runs curl, with the ```json
/// block right after it.
fn examples(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((lang.trim().to_string(), body.join("\n")));
        }
    }
    blocks
        .windows(2)
        .filter(|pair| {
            pair[0].0 == "sh" && pair[0].1.trim_start().starts_with("curl") && pair[1].0 == "json"
        })
        .map(|pair| (pair[0].1.clone(), pair[1].1.clone()))
        .collect()
}

#[test]
fn the_demo_answers_every_readme_example() -> Result<()> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))?;
    let examples = examples(&readme);
    assert!(
        examples.len() >= 15,
        "found only {} examples",
        examples.len()
    );

    let demo = common::demo::Demo::start()?;
    let (dir, port) = (&demo.dir, demo.port);
    {
        let tokens = demo.tokens()?;
        for role in ["admin", "investigator", "ingest", "analyst", "auditor"] {
            assert!(
                tokens[role].as_str().is_some_and(|t| t.len() > 20),
                "token for {role}"
            );
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))?
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "master.key mode");

        // The README's set-up step, with this demo's directory.
        assert!(readme.contains("source sightline-demo/demo-tokens.env"));
        let env_file = dir.path().join("demo-tokens.env");
        let mode = std::fs::metadata(&env_file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "demo-tokens.env mode");
        for (command, expected) in &examples {
            let command = format!(
                "source '{}'\n{}",
                env_file.display(),
                command.replace("127.0.0.1:7700", &format!("127.0.0.1:{port}"))
            );
            let output = Command::new("bash").arg("-c").arg(&command).output()?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let actual: Value = serde_json::from_str(&stdout)
                .with_context(|| format!("{command}\nanswered {stdout:?}"))?;
            let expected: Value = serde_json::from_str(expected)
                .with_context(|| format!("README JSON after {command}"))?;
            matches(&expected, &actual, "$")
                .with_context(|| format!("{command}\nanswered {actual}"))?;
        }
        Ok(())
    }
}
