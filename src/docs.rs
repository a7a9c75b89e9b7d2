//! `llmsweep completions SHELL` and `llmsweep man`: generated from the clap definitions in
//! [`crate::cli`], so they list exactly the subcommands and flags the binary takes.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "llmsweep", &mut out);
    out
}

/// The man page, roff: the top-level page, then a section per subcommand: its synopsis,
/// description and options.
pub fn man_page() -> Vec<u8> {
    let command = Cli::command();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(command.clone()).render(&mut out);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("llmsweep {}", sub.get_name());
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let page = clap_mangen::Man::new(sub.clone().bin_name(name));
        let _ = page
            .render_synopsis_section(&mut out)
            .and_then(|()| page.render_description_section(&mut out))
            .and_then(|()| page.render_options_section(&mut out));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn every_shell_completes_every_subcommand() {
        let names = subcommands();
        assert_eq!(
            names,
            [
                "run",
                "demo",
                "check",
                "sim",
                "report",
                "merge",
                "completions",
                "man"
            ]
        );
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let text = String::from_utf8(completions(shell)).unwrap();
            for name in &names {
                assert!(text.contains(name.as_str()), "{shell}: no {name}");
            }
            // Flags of a subcommand are completed too.
            assert!(text.contains("--start-at"), "{shell}: no --start-at");
        }
    }

    #[test]
    fn the_version_names_the_commit_it_was_built_from() {
        let version = crate::cli::VERSION;
        let commit = version
            .strip_prefix(concat!(env!("CARGO_PKG_VERSION"), " (commit "))
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{version}"));
        // Built from a git checkout (as the tests are): the short hash.
        assert_eq!(commit.len(), 12, "{version}");
        assert!(commit.chars().all(|c| c.is_ascii_hexdigit()), "{version}");
        let rendered = Cli::command().render_version();
        assert!(rendered.contains(version), "{rendered}");
    }

    #[test]
    fn the_man_page_names_every_subcommand() {
        let text = String::from_utf8(man_page()).unwrap();
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{}", &text[..80]);
        assert!(text.contains(".TH llmsweep 1"), "{text}");
        for name in subcommands() {
            assert!(
                text.contains(&format!(".SH \"LLMSWEEP {}\"", name.to_uppercase())),
                "no section for {name}"
            );
        }
    }
}
