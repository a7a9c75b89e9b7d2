//! Where things go: the image size, the rectangles of the header, legend, panels and footer.

/// A pixel rectangle of the chart: columns `x..x + w`, rows `y..y + h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width in pixels.
    pub w: i32,
    /// Height in pixels.
    pub h: i32,
}

impl Rect {
    /// Whether the pixel `(x, y)` lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// Where everything goes in a chart of a given report (the legend may wrap, moving the panels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartLayout {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Title, subtitle and (when simulated) the SIMULATED ENGINES badge.
    pub title: Rect,
    /// The legend rows.
    pub legend: Rect,
    /// The three panels, left to right, each with its caption, axes and plot.
    pub panels: [Rect; 3],
    /// The footer: which throughput is shown, what the error bars and knees are, the workload.
    pub footer: Rect,
}

/// Image width of every chart.
pub const WIDTH: u32 = 1800;
/// Image height of every chart.
pub const HEIGHT: u32 = 720;

pub(super) const SIDE: i32 = 24;
const TITLE_H: i32 = 92;
pub(super) const LEGEND_ROW_H: i32 = 30;
/// Height of a footer line, px; the footer is at least two lines high.
pub(super) const FOOTER_LINE_H: i32 = 20;
pub(super) const BADGE_W: i32 = 300;

pub(super) fn layout_for(legend_rows: i32, footer_lines: i32) -> ChartLayout {
    let (w, h) = (WIDTH as i32, HEIGHT as i32);
    let legend = Rect {
        x: SIDE,
        y: TITLE_H,
        w: w - 2 * SIDE,
        h: legend_rows * LEGEND_ROW_H + 6,
    };
    let top = legend.y + legend.h;
    let footer_h = FOOTER_LINE_H * footer_lines.max(2);
    let bottom = h - footer_h;
    let panel_w = (w - 2 * (SIDE / 2)) / 3;
    let panel = |i: i32| Rect {
        x: SIDE / 2 + i * panel_w,
        y: top,
        w: panel_w,
        h: bottom - top,
    };
    ChartLayout {
        width: WIDTH,
        height: HEIGHT,
        title: Rect {
            x: 0,
            y: 0,
            w,
            h: TITLE_H,
        },
        legend,
        panels: [panel(0), panel(1), panel(2)],
        footer: Rect {
            x: 0,
            y: bottom,
            w,
            h: footer_h,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_tile_the_canvas_without_overlap_and_stay_inside_it() {
        for (rows, lines) in [(1, 1), (1, 3), (3, 2)] {
            let l = layout_for(rows, lines);
            let (w, h) = (l.width as i32, l.height as i32);
            let inside = |r: &Rect| r.x >= 0 && r.y >= 0 && r.x + r.w <= w && r.y + r.h <= h;
            let mut all = vec![l.title, l.legend, l.footer];
            all.extend(l.panels);
            assert!(
                all.iter().all(inside),
                "{rows} rows, {lines} lines: {all:?}"
            );
            // The legend keeps the side margins; rows stack title, legend, panels, footer.
            assert_eq!((l.legend.x, l.legend.w), (SIDE, w - 2 * SIDE));
            assert_eq!(l.legend.y, l.title.y + l.title.h);
            assert_eq!(l.panels[0].y, l.legend.y + l.legend.h);
            assert_eq!(l.footer.y, l.panels[0].y + l.panels[0].h);
            assert_eq!(l.footer.h, FOOTER_LINE_H * lines.max(2));
            for pair in l.panels.windows(2) {
                assert_eq!(pair[0].x + pair[0].w, pair[1].x, "side by side: {pair:?}");
            }
        }
    }
}
