//! Keeps SPEC.md's worked example true: every `<!-- example:LABEL -->` block in SPEC.md must
//! equal the value this crate computes (`examples/spec_example/values.rs`, printed by
//! `cargo run -p proto --example spec_example`), and the example keys must be the published
//! RFC 8032 section 7.1 keys of `testdata/rfc8032_ed25519.json` (RFC 8032 TEST 1 and TEST 2).
//! The values were also reproduced once by an independent Python implementation when the
//! example was written (see SPEC.md, introduction).

#[path = "../examples/spec_example/values.rs"]
mod values;

use serde_json::Value;

const SPEC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/SPEC.md"));
const RFC8032: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/rfc8032_ed25519.json"
));

/// The text of the code block after `<!-- example:LABEL -->`.
fn spec_block(label: &str) -> Option<&'static str> {
    let marker = format!("<!-- example:{label} -->\n```\n");
    let start = SPEC.find(&marker)? + marker.len();
    let end = start + SPEC[start..].find("\n```")?;
    Some(&SPEC[start..end])
}

#[test]
fn spec_example_blocks_equal_the_computed_values() {
    let blocks = values::blocks();
    let mut stale = Vec::new();
    for block in &blocks {
        let expected = block.text.trim_end_matches('\n');
        if spec_block(block.label) != Some(expected) {
            stale.push(format!(
                "<!-- example:{} -->\n```\n{expected}\n```",
                block.label
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "SPEC.md is stale; replace these blocks:\n{}",
        stale.join("\n\n")
    );
    let markers = SPEC.matches("<!-- example:").count();
    assert_eq!(
        markers,
        blocks.len(),
        "every example block in SPEC.md is checked"
    );
}

#[test]
fn example_keys_are_the_published_rfc8032_keys() {
    let file: Value = serde_json::from_str(RFC8032).expect("rfc8032_ed25519.json parses");
    let vector = |name: &str| {
        file["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .expect("vector")
    };
    let test1 = vector("TEST 1");
    assert_eq!(test1["secret_key"], values::TEST1_SEED);
    let party = spec_block("party-key").expect("party-key block");
    let public = test1["public_key"].as_str().expect("public key");
    assert!(party.contains(&format!("public key {public}")), "{party}");
    assert_eq!(vector("TEST 2")["secret_key"], values::TEST2_SEED);
}
