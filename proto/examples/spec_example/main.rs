//! Prints the worked example of SPEC.md: `cargo run -p proto --example spec_example`.
//! `tests/spec_example.rs` fails when SPEC.md and these values differ.

mod values;

fn main() {
    for block in values::blocks() {
        println!(
            "<!-- example:{} -->\n```\n{}\n```\n",
            block.label,
            block.text.trim_end_matches('\n')
        );
    }
}
