//! Text on the chart: the embedded font's descriptions, fitting a line into a width, and the
//! [`Pen`] that puts a [`Label`] on a PNG (rasterised here) or an SVG (as `<text>`).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, INK};
use crate::report::{font, ReportError};

pub(super) fn font(size: f64, bold: bool) -> FontDesc<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    FontDesc::new(FontFamily::SansSerif, size, style)
}

/// `text`, cut with `…` so it fits in `max_w` pixels.
pub(super) fn fit(text: &str, size: f64, bold: bool, max_w: i32) -> Result<String, ReportError> {
    if font::width(text, size, bold)? <= max_w {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if font::width(&candidate, size, bold)? <= max_w {
            return Ok(candidate);
        }
    }
    Ok(String::new())
}

/// How text is put on the backend: rasterised by us (PNG) or as `<text>` elements (SVG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pen {
    Raster,
    Native,
}

/// A line of text placed by its anchor: `h` as given, `v` top or centre of the line.
pub(super) struct Label<'a> {
    text: &'a str,
    at: (i32, i32),
    size: f64,
    bold: bool,
    color: RGBAColor,
    h: HPos,
    v: VPos,
}

impl Label<'_> {
    pub(super) fn new(text: &str, at: (i32, i32), size: f64) -> Label<'_> {
        Label {
            text,
            at,
            size,
            bold: false,
            color: INK.to_rgba(),
            h: HPos::Left,
            v: VPos::Top,
        }
    }
    pub(super) fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    pub(super) fn color<C: Color>(mut self, color: &C) -> Self {
        self.color = color.to_rgba();
        self
    }
    pub(super) fn anchor(mut self, h: HPos, v: VPos) -> Self {
        self.h = h;
        self.v = v;
        self
    }
}

impl Pen {
    pub(super) fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        label: Label<'_>,
    ) -> Result<(), ReportError> {
        if label.text.is_empty() {
            return Ok(());
        }
        if self == Pen::Native {
            let style = font(label.size, label.bold)
                .color(&label.color)
                .pos(Pos::new(label.h, label.v));
            return area
                .draw(&Text::new(label.text.to_string(), label.at, style))
                .map_err(draw_err);
        }
        let width = font::width(label.text, label.size, label.bold)?;
        let height = font::line_height(label.size, label.bold)?;
        let x = match label.h {
            HPos::Left => label.at.0,
            HPos::Center => label.at.0 - width / 2,
            HPos::Right => label.at.0 - width,
        };
        let y = match label.v {
            VPos::Top => label.at.1,
            VPos::Center => label.at.1 - height / 2,
            VPos::Bottom => label.at.1 - height,
        };
        let RGBAColor(r, g, b, alpha) = label.color;
        let mut result = Ok(());
        font::raster(
            label.text,
            (x, y),
            label.size,
            label.bold,
            |px, py, coverage| {
                let coverage = f64::from(coverage.clamp(0.0, 1.0)) * alpha;
                if coverage > 0.01 && result.is_ok() {
                    result = area
                        .draw_pixel((px, py), &RGBAColor(r, g, b, coverage))
                        .map_err(draw_err);
                }
            },
        )?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns and rows a label inks, drawn by the raster pen at `at` with `anchor`.
    fn inked(anchor: (HPos, VPos), at: (i32, i32)) -> ((i32, i32), (i32, i32)) {
        let (w, h) = (400u32, 200u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            let label = Label::new("Wide label", at, 20.0).anchor(anchor.0, anchor.1);
            Pen::Raster.draw(&area, label).expect("drawn");
            area.present().expect("present");
        }
        let (mut x0, mut x1, mut y0, mut y1) = (i32::MAX, i32::MIN, i32::MAX, i32::MIN);
        for (i, px) in buf.chunks(3).enumerate() {
            if px[0] < 128 {
                let (x, y) = ((i as u32 % w) as i32, (i as u32 / w) as i32);
                (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            }
        }
        ((x0, x1), (y0, y1))
    }

    #[test]
    fn the_raster_pen_places_a_label_by_its_anchor() {
        let at = (200, 100);
        let ((l0, l1), (t0, _)) = inked((HPos::Left, VPos::Top), at);
        assert!(
            (at.0..at.0 + 4).contains(&l0) && t0 >= at.1,
            "left/top {l0} {t0}"
        );
        let width = l1 - l0;
        let ((c0, c1), _) = inked((HPos::Center, VPos::Top), at);
        assert!(
            ((c0 + c1) / 2 - at.0).abs() <= 3,
            "centred on x: {c0}..{c1}"
        );
        let ((_, r1), _) = inked((HPos::Right, VPos::Top), at);
        assert!((at.0 - 4..=at.0).contains(&r1), "right ends at x: {r1}");
        assert_eq!(c1 - c0, width);
        let (_, (m0, m1)) = inked((HPos::Left, VPos::Center), at);
        assert!(m0 < at.1 && m1 > at.1, "centred on y: {m0}..{m1}");
        let (_, (_, b1)) = inked((HPos::Left, VPos::Bottom), at);
        assert!(b1 <= at.1, "above its bottom: {b1}");
    }
}
