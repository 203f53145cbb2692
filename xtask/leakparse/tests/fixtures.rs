//! Exact numbers from real heaptrack 1.4 / valgrind 3.19 output of the
//! fixture programs in tests/data (see tests/data/README.md).

use runcost_leakparse::{
    parse_heaptrack_print, parse_memcheck_xml, tidy_symbol, ErrorKind, HeapReport, LeakVerdict,
    MemcheckReport, ParseError, RunState,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn heap(name: &str) -> HeapReport {
    let text = String::from_utf8(data(name)).expect("fixture is UTF-8");
    parse_heaptrack_print(&text).expect("fixture parses")
}

fn memcheck(name: &str) -> MemcheckReport {
    parse_memcheck_xml(&data(name)).expect("fixture parses")
}

// ---------------------------------------------------------------- heaptrack

#[test]
fn heaptrack_c_summary() {
    let r = heap("leaky.heaptrack.txt");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.debuggee.as_deref(), Some("./leaky"));
    let s = &r.summary;
    assert_eq!(s.runtime_seconds, Some(0.0));
    // 50 small temporaries + 1.5 MB temporary + 100 + 16 + 64 + 200 + 10
    // (invalid_read) + 4096 (stdout buffer) + 72704 (libstdc++ pool at start-up)
    assert_eq!(s.total_allocations, Some(58));
    assert_eq!(s.allocations_per_second, Some(29_000));
    // 50 + 1 in temporaries(), 1 in invalid_read()
    assert_eq!(s.temporary_allocations, Some(52));
    assert_eq!(s.temporary_per_second, Some(26_000));
    assert_eq!(s.peak_heap_bytes, Some(1_570_000)); // "1.57M"
    assert_eq!(s.peak_rss_bytes, Some(3_980_000)); // "3.98M"
                                                   // 100 + 16 + 64 + 200 + 4096 = 4476, printed as "4.48K"
    assert_eq!(s.leaked_bytes, Some(4_480));
    assert_eq!(s.suppressed_leak_bytes, None);
    assert_eq!(s.total_allocated_bytes, None); // not printed by 1.4
    assert_eq!(
        r.sections,
        [
            "MOST CALLS TO ALLOCATION FUNCTIONS",
            "PEAK MEMORY CONSUMERS",
            "MEMORY LEAKS",
            "MOST TEMPORARY ALLOCATIONS"
        ]
    );
}

#[test]
fn heaptrack_c_leaks() {
    let r = heap("leaky.heaptrack.txt");
    let got: Vec<(Option<u64>, Option<u64>, &str)> = r
        .leaks
        .iter()
        .map(|s| (s.bytes, s.count, s.function.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(4100), Some(1), "__GI__IO_file_doallocate"), // libc's stdout buffer
            (Some(200), Some(1), "leak_possible"),
            (Some(100), Some(1), "leak_definite"),
            (Some(64), Some(1), "make_holder"),
            (Some(16), Some(1), "make_holder"),
        ]
    );
    // The program's own leaks are below 1000 bytes, so exact: 200+100+64+16.
    let own: u64 = r
        .leaks
        .iter()
        .filter(|s| s.location.as_deref().is_some_and(|l| l.contains("leaky.c")))
        .filter_map(|s| s.bytes)
        .sum();
    assert_eq!(own, 380);

    let definite = &r.leaks[2];
    assert!(definite
        .location
        .as_deref()
        .unwrap()
        .ends_with("/leaky.c:25"));
    assert!(definite.module.as_deref().unwrap().ends_with("/leaky"));
    assert_eq!(definite.stack, ["main"]);
    assert_eq!(definite.backtraces.len(), 1);
    let bt = &definite.backtraces[0];
    assert_eq!((bt.bytes, bt.count), (Some(100), Some(1)));
    assert!(bt.frames[0]
        .location
        .as_deref()
        .unwrap()
        .ends_with("/leaky.c:69"));

    let indirect = &r.leaks[3];
    assert!(indirect
        .location
        .as_deref()
        .unwrap()
        .ends_with("/leaky.c:32"));
    assert_eq!(indirect.stack, ["leak_indirect", "main"]);

    // libc frames: inlined ones have an `at` line and no `in` line.
    let libc = &r.leaks[0];
    assert_eq!(libc.location.as_deref(), Some("./libio/filedoalloc.c:101"));
    let frames = &libc.backtraces[0].frames;
    assert_eq!(frames[0].function, "__GI__IO_doallocbuf");
    assert!(frames[0].module.is_some());
    assert_eq!(frames[1].function, "__GI__IO_doallocbuf");
    assert_eq!(frames[1].location.as_deref(), Some("./libio/genops.c:342"));
    assert_eq!(frames[1].module, None);
    assert_eq!(frames.last().unwrap().function, "main");
    assert!(r.leaks.iter().all(|s| s.other_places.is_none()));
}

#[test]
fn heaptrack_c_other_sections() {
    let r = heap("leaky.heaptrack.txt");

    assert_eq!(r.peak.len(), 6);
    let top = &r.peak[0];
    assert_eq!((top.bytes, top.count), (Some(1_500_000), Some(1)));
    assert_eq!(top.function, "temporaries");
    assert!(top.location.as_deref().unwrap().ends_with("/leaky.c:55"));
    // a frame without symbol: address, `in` line only
    assert_eq!(r.peak[1].bytes, Some(72_700));
    assert!(r.peak[1].function.starts_with("0x"));
    assert_eq!(r.peak[1].location, None);
    assert_eq!(
        r.peak[1].module.as_deref(),
        Some("/lib/x86_64-linux-gnu/libstdc++.so.6")
    );

    assert_eq!(r.allocations.len(), 9);
    let most = &r.allocations[0];
    assert_eq!(most.function, "temporaries");
    assert_eq!((most.count, most.bytes), (Some(50), Some(0)));
    assert_eq!(most.stack, ["main"]);

    let t: Vec<_> = r
        .temporary
        .iter()
        .map(|s| (s.count, s.total_count, s.function.as_str()))
        .collect();
    assert_eq!(
        t,
        [
            (Some(50), Some(50), "temporaries"),
            (Some(1), Some(1), "temporaries"),
            (Some(1), Some(1), "invalid_read"),
        ]
    );
    assert!(r.temporary.iter().all(|s| s.bytes.is_none()));
    assert_eq!(r.temporary[0].backtraces[0].count, Some(50));
}

#[test]
fn heaptrack_unmerged_gives_the_same_sites() {
    let merged = heap("leaky.heaptrack.txt");
    let r = heap("leaky.unmerged.heaptrack.txt");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.summary, merged.summary);
    let key = |s: &runcost_leakparse::Site| {
        (
            s.bytes,
            s.count,
            s.function.clone(),
            s.location.clone(),
            s.stack.clone(),
        )
    };
    let got: Vec<_> = r.leaks.iter().map(key).collect();
    let want: Vec<_> = merged.leaks.iter().map(key).collect();
    assert_eq!(got, want);
    // no sub-entries: the whole backtrace hangs under the entry line
    assert!(r.leaks.iter().all(|s| s.backtraces.is_empty()));
    assert_eq!(r.leaks[3].frames.len(), 3); // make_holder, leak_indirect, main
    assert_eq!(r.temporary.len(), 3);
    assert_eq!(r.temporary[0].count, Some(50));
}

#[test]
fn heaptrack_suppressed() {
    let r = heap("leaky.suppressed.heaptrack.txt");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.summary.leaked_bytes, Some(0));
    assert_eq!(r.summary.suppressed_leak_bytes, Some(4_480));
    assert!(r.has_leak_section());
    assert!(r.leaks.is_empty());
    assert_eq!(r.suppressions.len(), 1);
    let s = &r.suppressions[0];
    // heaptrack 1.4 bug: one `leak:leak_definite` line suppressed all nine
    // leaked allocations and the table shows an empty pattern.
    assert_eq!((s.matches, s.leaked_bytes), (9, Some(4_480)));
    assert_eq!(s.pattern, "");
}

#[test]
fn heaptrack_rust_leaks() {
    let r = heap("leaky_rs.heaptrack.txt");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.sections, ["MEMORY LEAKS"]);
    assert!(r.peak.is_empty() && r.allocations.is_empty() && r.temporary.is_empty());
    // 4096 (leak_bucket) + 72 (Vec<String> buffer) + 3 x 16 (Strings) + 544
    // (std's stdout buffer) = 4760
    assert_eq!(r.summary.leaked_bytes, Some(4_760));
    assert_eq!(r.summary.total_allocations, Some(125));
    assert_eq!(r.summary.temporary_allocations, Some(109));

    assert_eq!(r.leaks.len(), 3);
    let top = &r.leaks[0];
    // 4096 + 72 through one allocation function: 4.17K over 103 calls
    assert_eq!((top.bytes, top.count), (Some(4_170), Some(103)));
    // heaptrack leaves v0 symbols mangled...
    assert!(top.function.starts_with("_RNv"));
    assert_eq!(
        tidy_symbol(&top.function),
        "<alloc::raw_vec::RawVecInner>::try_allocate_in"
    );
    // ...and legacy ones half demangled, with `$LT$` escapes and hashes.
    assert!(top
        .stack
        .contains(&"leaky_rs::Registry$LT$K$C$V$GT$::leak_bucket::h0a77912a38394ba9".to_string()));
    assert!(top.mentions("leaky_rs::Registry<K,V>::leak_bucket"));
    let bts: Vec<(Option<u64>, Option<u64>)> =
        top.backtraces.iter().map(|b| (b.bytes, b.count)).collect();
    assert_eq!(bts, [(Some(4_100), Some(1)), (Some(72), Some(1))]);
    // the 72-byte Vec<String> buffer is the second backtrace
    assert!(top.backtraces[1]
        .frames
        .iter()
        .any(|f| tidy_symbol(&f.function) == "leaky_rs::leak_strings"));
    assert!(top.mentions("leaky_rs::leak_strings"));

    let strings = &r.leaks[2];
    assert_eq!((strings.bytes, strings.count), (Some(48), Some(6)));
    assert_eq!(strings.backtraces.len(), 3);
    assert!(strings.mentions("leaky_rs::leak_strings::{{closure}}"));

    let other = r.leaks[1]
        .other_places
        .as_ref()
        .expect("and ... other places");
    assert_eq!((other.amount, other.places), (Some(0), Some(2)));
}

// ---------------------------------------------------------------- memcheck

#[test]
fn memcheck_c_leaks_match_valgrinds_leak_summary() {
    let r = memcheck("leaky.memcheck.xml");
    assert!(r.complete);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // valgrind's text run of the same program prints:
    //   definitely lost: 116 bytes in 2 blocks
    //   indirectly lost: 64 bytes in 1 blocks
    //     possibly lost: 200 bytes in 1 blocks
    let s = r.leak_summary();
    assert_eq!(
        (s.definitely_lost.bytes, s.definitely_lost.blocks),
        (116, 2)
    );
    assert_eq!((s.indirectly_lost.bytes, s.indirectly_lost.blocks), (64, 1));
    assert_eq!((s.possibly_lost.bytes, s.possibly_lost.blocks), (200, 1));
    assert_eq!(s.still_reachable.records, 0);
    assert_eq!(r.definitely_lost_bytes(), 116);
    assert!(r.definitely_lost_exceeds(115));
    assert!(!r.definitely_lost_exceeds(116));
    assert_eq!(
        r.leak_verdict(100),
        LeakVerdict::Fail {
            definitely_lost_bytes: 116,
            threshold_bytes: 100
        }
    );
    assert!(matches!(r.leak_verdict(1000), LeakVerdict::Pass { .. }));
}

#[test]
fn memcheck_c_records() {
    let r = memcheck("leaky.memcheck.xml");
    let kinds: Vec<&ErrorKind> = r.errors.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [
            &ErrorKind::InvalidRead,
            &ErrorKind::LeakIndirectlyLost,
            &ErrorKind::LeakDefinitelyLost,
            &ErrorKind::LeakDefinitelyLost,
            &ErrorKind::LeakPossiblyLost,
        ]
    );

    let read = &r.errors[0];
    assert_eq!(read.what.as_deref(), Some("Invalid read of size 1"));
    assert_eq!(read.unique.as_deref(), Some("0x0"));
    assert_eq!(read.tid, Some(1));
    assert_eq!(read.stack[0].function.as_deref(), Some("invalid_read"));
    assert_eq!(read.stack[0].file.as_deref(), Some("leaky.c"));
    assert_eq!(read.stack[0].line, Some(63));
    assert_eq!(read.stack[0].ip.as_deref(), Some("0x109314"));
    assert_eq!(read.stack[1].function.as_deref(), Some("main"));
    assert_eq!(
        read.auxwhat,
        ["Address 0x4baf93a is 0 bytes after a block of size 10 alloc'd"]
    );
    assert_eq!(read.aux_stacks.len(), 1);
    assert_eq!(read.aux_stacks[0][0].function.as_deref(), Some("malloc"));
    assert_eq!(read.aux_stacks[0][1].line, Some(61));

    // the struct holder: leakedbytes includes the 64 bytes it points to
    let holder = &r.errors[2];
    assert_eq!(holder.leaked_bytes, Some(80));
    assert_eq!(holder.direct_bytes, Some(16));
    assert_eq!(holder.indirect_bytes, Some(64));
    assert_eq!(holder.leaked_blocks, Some(1));
    assert_eq!(holder.own_bytes(), Some(16));
    assert_eq!(
        holder
            .first_user_frame()
            .and_then(|f| f.function.as_deref()),
        Some("make_holder")
    );

    let definite = &r.errors[3];
    assert_eq!(
        definite.what.as_deref(),
        Some("100 bytes in 1 blocks are definitely lost in loss record 3 of 4")
    );
    assert_eq!(
        (definite.leaked_bytes, definite.direct_bytes),
        (Some(100), None)
    );
    let user = definite.first_user_frame().unwrap();
    assert_eq!(user.function.as_deref(), Some("leak_definite"));
    assert_eq!(
        (user.file.as_deref(), user.line),
        (Some("leaky.c"), Some(25))
    );
    assert_eq!(definite.stack[0].function.as_deref(), Some("malloc"));
    assert!(definite.stack[0]
        .obj
        .as_deref()
        .unwrap()
        .contains("vgpreload_memcheck"));

    let possible = &r.errors[4];
    assert_eq!(possible.leaked_bytes, Some(200));
    assert_eq!(
        possible
            .first_user_frame()
            .and_then(|f| f.function.as_deref()),
        Some("leak_possible")
    );
}

#[test]
fn memcheck_c_run_metadata_and_counts() {
    let r = memcheck("leaky.memcheck.xml");
    assert_eq!(r.valgrind_version.as_deref(), Some("3.19.0"));
    assert_eq!(r.protocol_version, Some(4));
    assert_eq!(r.tool.as_deref(), Some("memcheck"));
    assert_eq!(r.command, ["./leaky"]);
    assert_eq!(
        r.valgrind_argv,
        [
            "/usr/bin/valgrind.bin",
            "--tool=memcheck",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--xml=yes",
            "--xml-file=leaky.memcheck.xml"
        ]
    );
    let states: Vec<&RunState> = r.status.iter().map(|s| &s.state).collect();
    assert_eq!(states, [&RunState::Running, &RunState::Finished]);
    assert_eq!(r.final_state(), Some(&RunState::Finished));
    // <errorcounts> lists only the non-leak error
    assert_eq!(r.error_counts.len(), 1);
    assert_eq!(r.error_counts.get("0x0"), Some(&1));
    assert!(r.supp_counts.is_empty());
    let by_kind = r.error_counts_by_kind();
    assert_eq!(by_kind["InvalidRead"].occurrences, 1);
    assert_eq!(by_kind["Leak_DefinitelyLost"].contexts, 2);
    assert_eq!(by_kind["Leak_IndirectlyLost"].contexts, 1);
    assert_eq!(by_kind["Leak_PossiblyLost"].contexts, 1);
    assert_eq!(r.memory_errors().count(), 1);
    assert_eq!(r.leaks().count(), 4);
}

#[test]
fn memcheck_suppressed() {
    let r = memcheck("leaky.suppressed.memcheck.xml");
    assert!(r.complete);
    assert_eq!(r.supp_counts.get("leaky_possible_leak"), Some(&1));
    let s = r.leak_summary();
    assert_eq!(s.possibly_lost.records, 0);
    assert_eq!(s.definitely_lost.bytes, 116);
    assert!(r
        .valgrind_argv
        .contains(&"--suppressions=memcheck.supp".to_string()));
}

#[test]
fn memcheck_killed_run_is_incomplete() {
    let r = memcheck("killed.memcheck.xml");
    assert!(!r.complete);
    assert_eq!(r.final_state(), Some(&RunState::Running));
    assert_eq!(r.command, ["./leaky", "hang"]);
    // the invalid read happened before the kill and is complete
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].kind, ErrorKind::InvalidRead);
    // leak checking never ran: looks clean, but must not pass a gate
    assert_eq!(r.definitely_lost_bytes(), 0);
    assert_eq!(
        r.leak_verdict(0),
        LeakVerdict::Incomplete {
            definitely_lost_bytes: 0,
            threshold_bytes: 0
        }
    );
    assert!(r.warnings.iter().any(|w| w.contains("FINISHED")));
}

#[test]
fn memcheck_cut_after_finished_is_incomplete() {
    // valgrind writes FINISHED before the leak records: a file cut between
    // them has FINISHED but is still incomplete.
    let full = String::from_utf8(data("leaky.memcheck.xml")).unwrap();
    let cut = full.find("<kind>Leak_DefinitelyLost").unwrap();
    let r = parse_memcheck_xml(&full.as_bytes()[..cut]).unwrap();
    assert_eq!(r.final_state(), Some(&RunState::Finished));
    assert!(!r.complete);
    assert!(matches!(
        r.leak_verdict(1000),
        LeakVerdict::Incomplete { .. }
    ));
    assert!(r.warnings.iter().any(|w| w.contains("</valgrindoutput>")));
}

#[test]
fn memcheck_rust() {
    let r = memcheck("leaky_rs.memcheck.xml");
    assert!(r.complete);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // valgrind's text run prints: definitely lost: 4,168 bytes in 2 blocks,
    // indirectly lost: 48 bytes in 3 blocks
    let s = r.leak_summary();
    assert_eq!(
        (s.definitely_lost.bytes, s.definitely_lost.blocks),
        (4_168, 2)
    );
    assert_eq!((s.indirectly_lost.bytes, s.indirectly_lost.blocks), (48, 3));
    assert_eq!(r.errors.len(), 5);

    let vec_of_strings = &r.errors[3];
    assert_eq!(
        (
            vec_of_strings.leaked_bytes,
            vec_of_strings.direct_bytes,
            vec_of_strings.indirect_bytes
        ),
        (Some(120), Some(72), Some(48))
    );
    let bucket = &r.errors[4];
    assert_eq!(bucket.unique.as_deref(), Some("0x5"));
    // "4,096 bytes in 1 blocks": thousands separator in the text
    assert!(bucket.what.as_deref().unwrap().starts_with("4,096 bytes"));
    assert_eq!(bucket.leaked_bytes, Some(4_096));
    // entities decoded: &lt;K,V&gt;
    assert!(bucket
        .stack
        .iter()
        .any(|f| f.function.as_deref() == Some("leaky_rs::Registry<K,V>::leak_bucket")));
    assert_eq!(
        bucket
            .first_user_frame()
            .and_then(|f| f.function.as_deref()),
        Some("<alloc::raw_vec::RawVecInner>::try_allocate_in")
    );
    let long = r
        .errors
        .iter()
        .flat_map(|e| &e.stack)
        .filter_map(|f| f.function.as_deref())
        .max_by_key(|f| f.len())
        .unwrap();
    assert!(long.len() > 300, "{long}");
    assert!(long.contains("leaky_rs::leak_strings::{closure_env#0}"));
    assert!(long.contains('<') && long.contains("::"));
}

#[test]
fn reports_round_trip_through_json() {
    let h = heap("leaky_rs.heaptrack.txt");
    let json = serde_json::to_string(&h).unwrap();
    let back: HeapReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, h);

    let m = memcheck("leaky.memcheck.xml");
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"kind\":\"Leak_DefinitelyLost\""), "{json}");
    assert!(json.contains("\"fn\":\"leak_definite\""));
    assert!(json.contains("\"state\":\"FINISHED\""));
    let back: MemcheckReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);

    let v = serde_json::to_value(m.leak_verdict(0)).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["definitely_lost_bytes"], 116);
}

#[test]
fn wrong_inputs_are_clear_errors() {
    // valgrind's text output instead of its XML
    let err = parse_memcheck_xml(b"==2547== Memcheck, a memory error detector\n").unwrap_err();
    assert!(matches!(
        err,
        ParseError::NotXml {
            valgrind_text: true,
            ..
        }
    ));
    assert!(err.to_string().contains("--xml=yes"), "{err}");
    // heaptrack output given to the XML parser
    let err = parse_memcheck_xml(&data("leaky.heaptrack.txt")).unwrap_err();
    assert!(matches!(err, ParseError::NotXml { .. }), "{err}");
    // valgrind XML given to the heaptrack parser
    let xml = String::from_utf8(data("leaky.memcheck.xml")).unwrap();
    let err = parse_heaptrack_print(&xml).unwrap_err();
    assert!(matches!(err, ParseError::NotHeaptrack { .. }), "{err}");
    // the compressed trace instead of heaptrack_print's output
    let zst = data("leaky.heaptrack.zst");
    assert!(parse_heaptrack_print(&String::from_utf8_lossy(&zst)).is_err());
    assert!(parse_memcheck_xml(&zst).is_err());
}

#[test]
fn heaptrack_tail_loses_leaks_and_is_flagged() {
    // what `heaptrack_print ... | tail -n 20` would give: the end of the
    // temporary section and the summary, no leak section.
    let text = String::from_utf8(data("leaky.heaptrack.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len() - 20..].join("\n");
    let r = parse_heaptrack_print(&tail).unwrap();
    assert_eq!(r.summary.leaked_bytes, Some(4_480));
    assert!(r.leaks.is_empty());
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("no MEMORY LEAKS section")),
        "{:?}",
        r.warnings
    );
    // the entries at the top of the cut are still filed by their wording
    assert!(!r.temporary.is_empty());
}

#[test]
fn readme_embeds_the_fixture_sources() {
    let readme = String::from_utf8(data("README.md")).unwrap();
    for f in ["leaky.c", "leaky_rs.rs", "make_fixtures.sh"] {
        let src = String::from_utf8(data(f)).unwrap();
        assert!(
            readme.contains(src.trim_end()),
            "README.md must embed {f} verbatim"
        );
    }
}
