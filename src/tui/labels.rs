//! Engine labels for a narrow table column: each engine's name when it fits, otherwise a
//! label that still tells the engines apart ("vLLM default" and "vLLM max-num-seqs 4" never
//! both become "vLLM de").

/// Every engine's label in a column `width` characters wide, in the order of `names`;
/// `short[i]` is engine `i`'s configured `short_name`. Per engine, the first that applies:
///
/// 1. the name, when it has at most `width` characters;
/// 2. its `short_name`, when set (and at most `width` characters);
/// 3. the name's first `width − 1` characters and `…`, when no other name starts with them;
/// 4. `…` and the name's last `width − 1` characters, when no other name ends with them;
/// 5. its 1-based index, a space and as much of the name as fits (`2 vLLM …`).
///
/// Labels that would still look alike (equal once blanks and control characters count as
/// spaces and the ends are trimmed) fall back to rule 5 as well, so every label differs
/// while the index fits. Widths count characters; blanks and control characters are shown as
/// spaces.
pub fn engine_labels(names: &[&str], short: &[Option<&str>], width: usize) -> Vec<String> {
    let shown: Vec<Vec<char>> = names.iter().map(|n| visible(n)).collect();
    let mut labels: Vec<String> = (0..shown.len())
        .map(|i| {
            let short = short.get(i).copied().flatten();
            first_label(i, &shown, short, width)
        })
        .collect();
    // A label changes at most once (to its numbered form), so this ends.
    loop {
        let alike: Vec<usize> = (0..labels.len())
            .filter(|&i| (0..labels.len()).any(|j| j != i && look(&labels[i]) == look(&labels[j])))
            .collect();
        let mut changed = false;
        for i in alike {
            let numbered = numbered(i, &shown[i], width);
            if labels[i] != numbered {
                labels[i] = numbered;
                changed = true;
            }
        }
        if !changed {
            return labels;
        }
    }
}

/// The name's characters as a terminal shows them: blanks and control characters as spaces.
fn visible(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// What a label looks like on screen, for telling labels apart.
fn look(label: &str) -> &str {
    label.trim()
}

/// Rules 1 to 5 for engine `i` (see [`engine_labels`]), without comparing labels.
fn first_label(i: usize, names: &[Vec<char>], short: Option<&str>, width: usize) -> String {
    let name = &names[i];
    if name.len() <= width {
        return name.iter().collect();
    }
    if let Some(short) = short.map(visible) {
        if short.len() <= width && short.iter().any(|c| *c != ' ') {
            return short.into_iter().collect();
        }
    }
    let Some(keep) = width.checked_sub(1) else {
        return String::new();
    };
    let mut others = names
        .iter()
        .enumerate()
        .filter(move |(j, _)| *j != i)
        .map(|(_, n)| n);
    let head = &name[..keep];
    if !others.clone().any(|n| n.starts_with(head)) {
        return head.iter().chain(['…'].iter()).collect();
    }
    let tail = &name[name.len() - keep..];
    if !others.any(|n| n.ends_with(tail)) {
        return ['…'].iter().chain(tail).collect();
    }
    numbered(i, name, width)
}

/// Rule 5: `2 vLLM …`, the index alone when nothing of the name fits beside it (cut to
/// `width` when even it does not fit).
fn numbered(i: usize, name: &[char], width: usize) -> String {
    let index: Vec<char> = (i + 1).to_string().chars().collect();
    let room = width.saturating_sub(index.len() + 1);
    let mut label: Vec<char> = index.clone();
    if name.len() <= room {
        label.push(' ');
        label.extend(name);
    } else if room >= 2 {
        label.push(' ');
        label.extend(&name[..room - 1]);
        label.push('…');
    }
    label.truncate(width);
    let label: String = label.into_iter().collect();
    label.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str], width: usize) -> Vec<String> {
        engine_labels(names, &vec![None; names.len()], width)
    }

    fn assert_distinct(labels: &[String]) {
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert_ne!(a.trim(), b.trim(), "{labels:?}");
            }
        }
    }

    fn assert_fit(labels: &[String], width: usize) {
        for l in labels {
            assert!(l.chars().count() <= width, "{l:?} is wider than {width}");
        }
    }

    #[test]
    fn names_that_fit_are_whole() {
        assert_eq!(labels(&["vLLM", "SGLang"], 8), ["vLLM", "SGLang"]);
        assert_eq!(labels(&["exactly8"], 8), ["exactly8"]);
    }

    #[test]
    fn two_vllm_configurations_get_distinct_labels_at_width_8() {
        let got = labels(&["vLLM default", "vLLM max-num-seqs 4"], 8);
        assert_eq!(got, ["vLLM de…", "vLLM ma…"]);
        // At 6 the cut `vLLM ` is shared: the ends tell them apart.
        let got = labels(&["vLLM default", "vLLM max-num-seqs 4"], 6);
        assert_eq!(got, ["…fault", "…eqs 4"]);
    }

    #[test]
    fn the_short_name_is_used_when_the_name_does_not_fit() {
        let got = engine_labels(
            &["vLLM default", "vLLM max-num-seqs 4", "SGLang"],
            &[None, Some("vLLM mx4"), Some("unused")],
            8,
        );
        assert_eq!(got, ["vLLM de…", "vLLM mx4", "SGLang"]);
    }

    #[test]
    fn a_name_that_is_a_prefix_of_another() {
        let got = labels(&["vLLM", "vLLM-nightly-build"], 8);
        assert_eq!(got, ["vLLM", "vLLM-ni…"]);
        // Both cut, one the other's start: its end differs.
        let got = labels(&["vLLM-nightly", "vLLM-nightly-2"], 8);
        assert_eq!(got, ["…nightly", "…ghtly-2"]);
    }

    #[test]
    fn a_common_long_prefix_and_suffix_fall_back_to_the_index() {
        let got = labels(
            &[
                "Qwen2.5-7B-Instruct on vLLM",
                "Qwen2.5-7B-Instruct on SGLang",
            ],
            8,
        );
        assert_eq!(got, ["…on vLLM", "… SGLang"]);
        let got = labels(&["model-common-A-tail-same", "model-common-B-tail-same"], 8);
        assert_eq!(got, ["1 model…", "2 model…"]);
        assert_fit(&got, 8);
    }

    #[test]
    fn non_ascii_names_count_characters() {
        let got = labels(&["Ünïcödé-Engine-α", "Ünïcödé-Engine-β", "日本語モデル"], 8);
        assert_eq!(got, ["…ngine-α", "…ngine-β", "日本語モデル"]);
        assert_fit(&got, 8);
        let got = labels(&["ずっと長い名前のエンジン", "短い"], 6);
        assert_eq!(got, ["ずっと長い…", "短い"]);
    }

    #[test]
    fn blanks_never_make_two_labels_look_alike() {
        // The same cut once a tab or a no-break space shows as a space.
        let got = labels(
            &["big model one", "big\tmodel two", "big\u{a0}model six"],
            8,
        );
        assert_eq!(got, ["…del one", "…del two", "…del six"]);
        // Trailing blanks are invisible: `vLLM ` and `vLLM` look the same.
        let got = labels(&["vLLM", "vLLM ", "SGLang"], 8);
        assert_eq!(got, ["1 vLLM", "2 vLLM", "SGLang"]);
        // A short name equal to another engine's name.
        let got = engine_labels(&["vLLM", "vLLM max-num-seqs 4"], &[None, Some("vLLM")], 8);
        assert_eq!(got, ["1 vLLM", "2 vLLM …"]);
        assert_distinct(&got);
        // A control character shows as a space.
        assert_eq!(labels(&["a\nb"], 8), ["a b"]);
    }

    #[test]
    fn many_alike_names_stay_distinct_and_fit() {
        let names: Vec<String> = (0..12)
            .map(|i| format!("engine-{i:02}-same-tail"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for width in [6, 8, 16] {
            let got = labels(&names, width);
            assert_distinct(&got);
            assert_fit(&got, width);
        }
        assert_eq!(labels(&names, 8)[0], "1 engin…");
        assert_eq!(labels(&names, 8)[11], "12 engi…");
    }

    #[test]
    fn tiny_widths_do_not_panic() {
        for width in 0..4 {
            let got = labels(&["vLLM default", "vLLM max-num-seqs 4"], width);
            assert_fit(&got, width);
        }
        assert_eq!(labels(&["vLLM default"], 1), ["…"]);
        assert_eq!(labels(&["vLLM default", "vLLM max"], 2), ["…t", "…x"]);
        assert_eq!(labels(&["vLLM default", "vLLM max-t"], 2), ["1", "2"]);
    }
}
