//! No input makes either parser panic: arbitrary text and bytes, every
//! truncation of the real fixtures, random mutations of them, deep nesting,
//! huge numbers. A cut valgrind file is never reported complete.

use proptest::prelude::*;
use runcost_leakparse::{
    parse_heaptrack_print, parse_heaptrack_print_bytes, parse_memcheck_xml, parse_size,
    tidy_symbol, LeakVerdict,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const XML_FIXTURES: &[&str] = &[
    "leaky.memcheck.xml",
    "leaky.suppressed.memcheck.xml",
    "killed.memcheck.xml",
    "leaky_rs.memcheck.xml",
];
const HEAP_FIXTURES: &[&str] = &[
    "leaky.heaptrack.txt",
    "leaky.unmerged.heaptrack.txt",
    "leaky.suppressed.heaptrack.txt",
    "leaky_rs.heaptrack.txt",
];

/// Checks what must hold for any parse of valgrind input.
fn check_xml(input: &[u8]) {
    if let Ok(r) = parse_memcheck_xml(input) {
        if r.complete {
            let text = String::from_utf8_lossy(input);
            assert!(text.contains("</valgrindoutput>"));
            assert!(text.contains("FINISHED"));
        } else {
            assert!(!matches!(
                r.leak_verdict(u64::MAX),
                LeakVerdict::Pass { .. }
            ));
        }
        assert!(r.warnings.len() <= 101);
        let _ = r.leak_summary();
        let _ = r.error_counts_by_kind();
        let _ = serde_json::to_string(&r).unwrap();
    }
}

fn check_heap(input: &str) {
    if let Ok(r) = parse_heaptrack_print(input) {
        assert!(r.warnings.len() <= 101);
        for s in r.leaks.iter().chain(&r.peak).chain(&r.allocations) {
            let _ = s.mentions("main");
            let _ = tidy_symbol(&s.function);
        }
        let _ = serde_json::to_string(&r).unwrap();
    }
}

#[test]
fn every_prefix_of_every_xml_fixture() {
    for name in XML_FIXTURES {
        let full = data(name);
        let end = String::from_utf8_lossy(&full)
            .find("</valgrindoutput>")
            .map(|i| i + "</valgrindoutput>".len());
        let mut last_definite = 0;
        // every prefix of the small files; every 17th of the large one, plus
        // the bytes around the closing tag
        let step = if full.len() > 20_000 { 17 } else { 1 };
        let mut cuts: Vec<usize> = (0..=full.len()).step_by(step).collect();
        if let Some(e) = end {
            cuts.extend(e.saturating_sub(3)..=(e + 3).min(full.len()));
        }
        cuts.push(full.len());
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            let prefix = &full[..cut];
            check_xml(prefix);
            if let Ok(r) = parse_memcheck_xml(prefix) {
                assert_eq!(
                    r.complete,
                    end.is_some_and(|e| cut >= e),
                    "{name} cut at {cut}"
                );
                // leak records only ever get added as the file grows
                let d = r.definitely_lost_bytes();
                assert!(d >= last_definite, "{name} cut at {cut}");
                last_definite = d;
            }
        }
        let total = parse_memcheck_xml(&full).unwrap().definitely_lost_bytes();
        assert_eq!(last_definite, total, "{name}");
    }
}

#[test]
fn every_prefix_and_suffix_of_heaptrack_fixtures() {
    for name in HEAP_FIXTURES {
        let full = String::from_utf8(data(name)).unwrap();
        let bounds: Vec<usize> = (0..=full.len())
            .filter(|&i| full.is_char_boundary(i))
            .collect();
        // all prefixes of the small files, every 7th of the large one
        let step = if full.len() > 20_000 { 7 } else { 1 };
        for &cut in bounds.iter().step_by(step) {
            check_heap(&full[..cut]);
            check_heap(&full[cut..]);
        }
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 200_000;
    let mut xml = String::from("<valgrindoutput><error>");
    xml.push_str(&"<stack>".repeat(depth));
    xml.push_str(&"</stack>".repeat(depth));
    xml.push_str("</error></valgrindoutput>");
    let r = parse_memcheck_xml(xml.as_bytes()).unwrap();
    assert!(!r.complete); // no FINISHED status
                          // unclosed: cut in the middle of the nesting
    let cut = &xml.as_bytes()[..xml.len() / 2];
    let r = parse_memcheck_xml(cut).unwrap();
    assert!(!r.complete);
    // deep but not valgrind
    let other = "<a>".repeat(depth);
    assert!(parse_memcheck_xml(other.as_bytes()).is_err());
}

#[test]
fn huge_numbers_are_none_or_saturate() {
    let record = |bytes: &str| {
        format!(
            "<error><unique>0x1</unique><tid>1</tid><kind>Leak_DefinitelyLost</kind>\
             <xwhat><text>x</text><leakedbytes>{bytes}</leakedbytes>\
             <leakedblocks>1</leakedblocks></xwhat></error>"
        )
    };
    let xml = format!(
        "<valgrindoutput><status><state>FINISHED</state></status>{}{}{}</valgrindoutput>",
        record("99999999999999999999999999"),
        record("18446744073709551615"),
        record("18446744073709551615"),
    );
    let r = parse_memcheck_xml(xml.as_bytes()).unwrap();
    assert!(r.complete);
    assert_eq!(r.errors[0].leaked_bytes, None);
    assert!(r.warnings.iter().any(|w| w.contains("not a number")));
    assert_eq!(r.definitely_lost_bytes(), u64::MAX);
    assert!(matches!(r.leak_verdict(0), LeakVerdict::Fail { .. }));

    let text = "MEMORY LEAKS\n\
                99999999999999999999999P leaked over 99999999999999999999999 calls from\n\
                f\n\ntotal memory leaked: 1e400\n";
    let r = parse_heaptrack_print(text).unwrap();
    assert_eq!(r.leaks[0].bytes, None);
    assert_eq!(r.leaks[0].count, None);
    assert_eq!(r.summary.leaked_bytes, None);
    assert!(!r.warnings.is_empty());
}

#[test]
fn garbage_and_binary() {
    for input in [
        &b""[..],
        b"   \n\t ",
        b"\0\0\0\xff\xfe",
        b"<",
        b"<<<<>>>>",
        b"<?xml version=\"1.0\"?>",
        b"<?xml version=\"1.0\"?><html><body/></html>",
        b"<valgrindoutput>",
        b"<valgrindoutput></valgrindoutput>",
        b"<valgrindoutput><error></valgrindoutput>",
        b"<valgrindoutput>&bogus;&#0;&#xFFFFFFFF;</valgrindoutput>",
        b"<valgrindoutput><![CDATA[x]]></valgrindoutput><extra/>",
        b"\xef\xbb\xbf<valgrindoutput/>",
    ] {
        check_xml(input);
        check_heap(&String::from_utf8_lossy(input));
        let _ = parse_heaptrack_print_bytes(input);
    }
    assert!(parse_memcheck_xml(b"").is_err());
    assert!(parse_memcheck_xml(b"\0\0\0").is_err());
    assert!(parse_memcheck_xml(b"<html><body/></html>").is_err());
    assert!(parse_heaptrack_print("").is_err());
    assert!(parse_heaptrack_print("hello\nworld\n").is_err());
    let zst = data("leaky.heaptrack.zst");
    check_xml(&zst);
    check_heap(&String::from_utf8_lossy(&zst));
}

#[test]
fn warnings_are_capped() {
    let text = format!(
        "total memory leaked: 1B\n{}",
        "garbage line\n".repeat(10_000)
    );
    let r = parse_heaptrack_print(&text).unwrap();
    assert_eq!(r.warnings.len(), 101);
    assert!(r.warnings.last().unwrap().contains("more warnings"));
}

/// Applies one of several edits at positions chosen by `picks`.
fn mutate(mut input: Vec<u8>, edits: &[(u8, usize, usize, Vec<u8>)]) -> Vec<u8> {
    for (op, a, b, bytes) in edits {
        let len = input.len();
        if len == 0 {
            input.extend_from_slice(bytes);
            continue;
        }
        let i = a % len;
        let j = (i + b % 512).min(len);
        match op % 6 {
            0 => {
                input.drain(i..j);
            }
            1 => {
                input.splice(i..i, bytes.iter().copied());
            }
            2 => {
                let chunk = input[i..j].to_vec();
                input.splice(j..j, chunk);
            }
            3 => input[i] = bytes.first().copied().unwrap_or(b'<'),
            4 => input.truncate(i),
            _ => {
                // swap two ranges' first bytes (shuffles tags and digits)
                let k = b % len;
                input.swap(i, k);
            }
        }
    }
    input
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, usize, Vec<u8>)>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<usize>(),
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    prop::sample::select(b"<>/&;:0123456789. \n".to_vec())
                ],
                0..16,
            ),
        ),
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        check_heap(&s);
        check_xml(s.as_bytes());
    }

    #[test]
    fn tool_like_text_never_panics(
        s in "([A-Z ]{0,12}|[0-9.]{1,8}[KMGB]{0,2} (leaked|peak memory consumed|consumed) over [0-9]{1,4} calls from:?|[0-9]{1,5} (calls to allocation functions|calls) with [0-9.KMB]{1,6} peak consumption from:?|[0-9]{1,4} temporary allocations of [0-9]{1,4} allocations in total \\([0-9.]{1,6}%\\) from:?|  ?(at|in) [a-z/.:0-9]{0,20}|and [0-9.KB]{1,6} from [0-9]{1,3} other places|(total memory leaked|peak heap memory consumption|suppressed leaks|total runtime|calls to allocation functions): [0-9.KMGBs()/ ]{0,14}|Suppressions used:| *[0-9]{1,4} +[0-9.KB]{1,6} [a-z]{0,5}|[a-z_:<>$]{1,30}|)(\n([A-Z ]{0,12}|[0-9.]{1,8}[KMGB]{0,2} leaked over [0-9]{1,4} calls from:?|  ?(at|in) [a-z/.:0-9]{0,20}|[a-z_:<>$]{1,30}|))*"
    ) {
        check_heap(&s);
    }

    #[test]
    fn xml_like_text_never_panics(
        s in "(<valgrindoutput>)?(<(/)?(error|stack|frame|fn|kind|xwhat|leakedbytes|leakedblocks|status|state|errorcounts|pair|count|unique|args|argv|arg|fatal_signal|preamble|line)>|[a-zA-Z0-9_ ]{0,8}|&(lt|gt|amp|#x41|#0|zz);|<!--x-->|<!\\[CDATA\\[y\\]\\]>)*"
    ) {
        check_xml(s.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_xml(&b);
        let _ = parse_heaptrack_print_bytes(&b);
    }

    #[test]
    fn mutated_xml_fixtures_never_panic(which in 0..XML_FIXTURES.len(), e in edits()) {
        let input = mutate(data(XML_FIXTURES[which]), &e);
        check_xml(&input);
    }

    #[test]
    fn mutated_heaptrack_fixtures_never_panic(which in 0..HEAP_FIXTURES.len(), e in edits()) {
        let input = mutate(data(HEAP_FIXTURES[which]), &e);
        check_heap(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn truncated_xml_is_incomplete_or_error(which in 0..XML_FIXTURES.len(), frac in 0.0f64..1.0) {
        let full = data(XML_FIXTURES[which]);
        let end = String::from_utf8_lossy(&full).find("</valgrindoutput>");
        let cut = ((full.len() as f64) * frac) as usize;
        if let Ok(r) = parse_memcheck_xml(&full[..cut]) {
            prop_assert!(!r.complete || end.is_some_and(|e| cut > e));
        }
    }

    #[test]
    fn sizes_never_panic(s in "[-+0-9.,]{0,30}[ ]?(B|K|KB|KiB|M|MB|G|GB|T|P|bytes|X)?") {
        let _ = parse_size(&s);
    }

    #[test]
    fn symbols_never_panic(s in "(_R|_ZN)?[A-Za-z0-9_$.:]{0,80}") {
        let _ = tidy_symbol(&s);
    }
}
