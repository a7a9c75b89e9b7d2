//! The finished-levels table when levels carry 95 % confidence intervals (`[sweep] trials`,
//! or batch means): cells read `mean±half-width`, columns are as wide as their widest cell,
//! and the least needed ones give way until the table fits the width.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Row, Table, Widget};

use super::column_labels;
use super::tables::{
    engine_cell, engine_col_width, errors_text, header_row, level_header, long_marks, right,
    row_style, ERRORS_WIDTH,
};
use crate::report::BasisMix;
use crate::results::confidence::{Interval, IntervalMethod};
use crate::tui::app::{App, FinishedLevel};
use crate::tui::format;

/// Width of the level column (as in the plain table).
const LEVEL_WIDTH: u16 = 5;

/// A numeric column: its header, a cell per row, and when it gives way (lowest first;
/// `None` = never).
struct Column {
    header: &'static str,
    texts: Vec<String>,
    drop_rank: Option<u8>,
    /// A set width instead of the widest cell's.
    fixed: Option<u16>,
}

impl Column {
    fn width(&self) -> u16 {
        if let Some(width) = self.fixed {
            return width;
        }
        self.texts
            .iter()
            .map(|t| t.chars().count())
            .chain([self.header.chars().count()])
            .max()
            .unwrap_or(0) as u16
    }
}

/// What the ± in the table is: `± 95% CI, 3 trials` or `± 95% CI, batch means`, or only
/// `± 95% CI` when that does not fit in `room` characters (or the methods differ); `trials`
/// is `[sweep] trials`. `None` when no level has intervals.
pub(super) fn interval_title(
    levels: &[FinishedLevel],
    trials: Option<u32>,
    room: usize,
) -> Option<String> {
    let mut with = levels.iter().filter_map(|l| l.summary.intervals.as_ref());
    let first = with.next()?;
    let same = with.all(|i| i.method == first.method);
    let confidence = format!("± {:.0}% CI", first.confidence * 100.0);
    let long = match (same, first.method, trials) {
        (true, IntervalMethod::Trials, Some(trials)) => format!("{confidence}, {trials} trials"),
        (true, IntervalMethod::BatchMeans, _) => format!("{confidence}, batch means"),
        _ => return Some(confidence),
    };
    Some(if long.chars().count() <= room {
        long
    } else {
        confidence
    })
}

/// `mean±half` (the interval's mean) when there is an interval, the plain value otherwise.
fn rate_cell(interval: Option<&Interval>, value: f64, mark: &str) -> String {
    match interval {
        Some(i) => format!("{}{mark}", format::si_pm(i.mean, i.half_width())),
        None => format!("{}{mark}", format::si(value)),
    }
}

fn ms_cell(interval: Option<&Interval>, value: Option<f64>) -> String {
    match interval {
        Some(i) => format::ms_pm(i.mean, i.half_width()),
        None => format::ms(value),
    }
}

pub(super) fn render_interval_table(
    app: &App,
    shown: &[FinishedLevel],
    mix: Option<BasisMix>,
    block: Block<'static>,
    area: Rect,
    buf: &mut Buffer,
) {
    // Widths come from every row, so they do not jump as the table scrolls.
    let all = app.levels();
    let goodput = all.iter().any(|l| l.summary.request_goodput.is_some());
    let long = long_marks(all.iter().map(|l| &*l.summary), ERRORS_WIDTH.into());
    let column = |header, drop_rank, text: &dyn Fn(&FinishedLevel) -> String| Column {
        header,
        texts: all.iter().map(text).collect(),
        drop_rank,
        fixed: None,
    };
    let mut columns = vec![
        Column {
            fixed: Some(LEVEL_WIDTH),
            ..column(level_header(app.report()), None, &|l| {
                format::level(l.summary.level)
            })
        },
        column("req/s", Some(3), &|l| {
            let s = &l.summary;
            let i = s
                .intervals
                .as_ref()
                .and_then(|i| i.request_throughput.as_ref());
            rate_cell(i, s.plotted_request_throughput(), BasisMix::mark(mix, s))
        }),
    ];
    if goodput {
        columns.push(column("good/s", Some(1), &|l| {
            l.summary
                .request_goodput
                .map_or("-".to_string(), format::si)
        }));
    }
    columns.extend([
        column("tok/s", None, &|l| {
            let s = &l.summary;
            let i = s
                .intervals
                .as_ref()
                .and_then(|i| i.output_throughput.as_ref());
            rate_cell(i, s.plotted_output_throughput(), BasisMix::mark(mix, s))
        }),
        column("TTFT p50", None, &|l| {
            let s = &l.summary;
            let i = s.intervals.as_ref().and_then(|i| i.median_ttft_ms.as_ref());
            ms_cell(i, s.median_ttft_ms)
        }),
        column("TTFT p99", Some(2), &|l| {
            let s = &l.summary;
            let i = s.intervals.as_ref().and_then(|i| i.p99_ttft_ms.as_ref());
            ms_cell(i, s.p99_ttft_ms)
        }),
        column("Lat p50", None, &|l| {
            let s = &l.summary;
            let i = s.intervals.as_ref().and_then(|i| i.median_e2el_ms.as_ref());
            ms_cell(i, s.median_e2el_ms)
        }),
        column("Lat p99", Some(0), &|l| format::ms(l.summary.p99_e2el_ms)),
        column("Errors", None, &|l| {
            errors_text(&l.summary, long, ERRORS_WIDTH.into())
        }),
    ]);
    let engine_width = engine_col_width(app, area);
    let labels = column_labels(app, engine_width);
    // Each column after the engine's takes its width and a space before it.
    let total = |columns: &[Column]| -> u16 {
        engine_width + columns.iter().map(|c| c.width() + 1).sum::<u16>()
    };
    while total(&columns) > area.width {
        let Some(drop) = columns
            .iter()
            .enumerate()
            .filter_map(|(at, c)| c.drop_rank.map(|rank| (rank, at)))
            .min()
        else {
            break;
        };
        columns.remove(drop.1);
    }

    // `shown` is a window of `all`: where it starts.
    let offset = shown
        .first()
        .and_then(|s| all.iter().position(|l| std::ptr::eq(l, s)))
        .unwrap_or(0);
    let rows = shown.iter().enumerate().map(|(at, row)| {
        let mut cells = vec![engine_cell(app, &labels, row.engine)];
        cells.extend(columns.iter().map(|c| right(c.texts[offset + at].clone())));
        Row::new(cells).style(row_style(&row.summary))
    });
    let mut widths = vec![Constraint::Length(engine_width)];
    let mut header = vec!["Engine"];
    for c in &columns {
        widths.push(Constraint::Length(c.width()));
        header.push(c.header);
    }
    Table::new(rows, widths)
        .header(header_row(&header, 1, header.len()))
        .column_spacing(1)
        .block(block)
        .render(area, buf);
}
