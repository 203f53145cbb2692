//! Prints the parsed report of a heaptrack_print text file or valgrind XML
//! file as JSON: `cargo run -p runcost-leakparse --example dump -- FILE`.
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE (heaptrack_print text, or valgrind XML ending in .xml)");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let json = if path.ends_with(".xml") {
        runcost_leakparse::parse_memcheck_xml(&bytes).map(|r| {
            let summary = r.leak_summary();
            let counts = r.error_counts_by_kind();
            serde_json::json!({ "report": r, "leak_summary": summary, "error_counts_by_kind": counts })
        })
    } else {
        runcost_leakparse::parse_heaptrack_print_bytes(&bytes).map(|r| serde_json::json!(r))
    };
    match json {
        Ok(j) => println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default()),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
