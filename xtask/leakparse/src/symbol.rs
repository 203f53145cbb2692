//! Making the Rust symbols heaptrack 1.4 prints readable.

/// Turns a function name as heaptrack or valgrind printed it into a readable
/// one, for display and matching; other names come back unchanged.
///
/// heaptrack 1.4 runs Rust's legacy-mangled symbols through the C++
/// demangler only, which leaves Rust's own escapes and the hash:
/// `leaky_rs::Registry$LT$K$C$V$GT$::leak_bucket::h0a77912a38394ba9` becomes
/// `leaky_rs::Registry<K,V>::leak_bucket`. Raw v0 symbols (`_RNv...`) and
/// raw legacy ones (`_ZN...E`) are demangled, without hashes.
pub fn tidy_symbol(name: &str) -> String {
    let trimmed = name.trim();
    if trimmed.starts_with("_R") || trimmed.starts_with("_ZN") {
        if let Ok(d) = rustc_demangle::try_demangle(trimmed) {
            return format!("{d:#}");
        }
        return trimmed.to_string();
    }
    tidy_half_demangled(trimmed).unwrap_or_else(|| trimmed.to_string())
}

/// `a::b$LT$T$GT$::c::h0123456789abcdef` -> `a::b<T>::c`, by rebuilding the
/// legacy mangled symbol and demangling it with rustc-demangle, so Rust's
/// escapes (`$LT$`, `$u20$`, `..`) are undone exactly as rustc defines them.
fn tidy_half_demangled(name: &str) -> Option<String> {
    let segments: Vec<&str> = name.split("::").collect();
    let has_hash = segments.last().is_some_and(|s| is_rust_hash(s));
    if !(has_hash || name.contains('$')) || segments.len() > 256 {
        return None;
    }
    let valid = |s: &&str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.')
    };
    if !segments.iter().all(valid) {
        return None;
    }
    let mut mangled = String::with_capacity(name.len() + 4 * segments.len() + 8);
    mangled.push_str("_ZN");
    for seg in &segments {
        mangled.push_str(&seg.len().to_string());
        mangled.push_str(seg);
    }
    if !has_hash {
        // rustc-demangle wants a hash segment to accept a legacy symbol.
        mangled.push_str("17h0000000000000000");
    }
    mangled.push('E');
    let d = rustc_demangle::try_demangle(&mangled).ok()?;
    Some(format!("{d:#}"))
}

fn is_rust_hash(seg: &str) -> bool {
    seg.len() == 17 && seg.starts_with('h') && seg[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heaptrack_half_demangled_rust() {
        assert_eq!(
            tidy_symbol("leaky_rs::Registry$LT$K$C$V$GT$::leak_bucket::h0a77912a38394ba9"),
            "leaky_rs::Registry<K,V>::leak_bucket"
        );
        assert_eq!(
            tidy_symbol(
                "_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$alloc..vec..spec_from_iter..\
                 SpecFromIter$LT$T$C$I$GT$$GT$::from_iter::h732e9de673aa4877"
            ),
            "<alloc::vec::Vec<T> as alloc::vec::spec_from_iter::SpecFromIter<T,I>>::from_iter"
        );
        assert_eq!(
            tidy_symbol("std::rt::lang_start::_$u7b$$u7b$closure$u7d$$u7d$::hf482df54e27a7f95"),
            "std::rt::lang_start::{{closure}}"
        );
        assert_eq!(
            tidy_symbol("leaky_rs::main::h9d266f08df5f7762"),
            "leaky_rs::main"
        );
    }

    #[test]
    fn raw_v0_symbol() {
        assert_eq!(
            tidy_symbol("_RNvNtCsjrHSEGnQ3l9_3std2rt19lang_start_internal"),
            "std::rt::lang_start_internal"
        );
    }

    #[test]
    fn other_names_unchanged() {
        for s in [
            "main",
            "0x7fd7f96a57b9",
            "__GI__IO_file_doallocate",
            "std::vector<int, std::allocator<int> >::push_back(int const&)",
            "<alloc::raw_vec::RawVecInner>::finish_grow",
            "operator new(unsigned long)",
            "??",
            "",
            "a::$",
            "_R",
            "_ZNgarbage",
        ] {
            assert_eq!(tidy_symbol(s), s.trim(), "{s}");
        }
    }
}
