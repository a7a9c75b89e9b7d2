//! The chart font: DejaVu Sans (regular and bold) embedded in the binary, so charts render the
//! same on a machine with no fonts at all.
//!
//! It is registered with plotters as `sans-serif` (axis tick labels), and PNG text we place
//! ourselves is rasterised here with ab_glyph: plotters' ab_glyph path drops each glyph's left
//! side bearing, which spaces words unevenly ("con currency").

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::style::FontStyle;

use super::ReportError;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

struct Faces {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

/// The parsed faces, and plotters' `sans-serif` registered once per process.
fn faces() -> Result<&'static Faces, ReportError> {
    static FACES: OnceLock<Option<Faces>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            let registered =
                plotters::style::register_font("sans-serif", FontStyle::Normal, REGULAR).is_ok()
                    && plotters::style::register_font("sans-serif", FontStyle::Bold, BOLD).is_ok();
            let faces = Faces {
                regular: FontRef::try_from_slice(REGULAR).ok()?,
                bold: FontRef::try_from_slice(BOLD).ok()?,
            };
            registered.then_some(faces)
        })
        .as_ref()
        .ok_or(ReportError::Font)
}

/// Makes sure the embedded font is loaded and registered with plotters.
pub(crate) fn ensure_loaded() -> Result<(), ReportError> {
    faces().map(|_| ())
}

fn face(bold: bool) -> Result<&'static FontRef<'static>, ReportError> {
    let faces = faces()?;
    Ok(if bold { &faces.bold } else { &faces.regular })
}

/// Width in pixels of `text` at `size` px.
pub(crate) fn width(text: &str, size: f64, bold: bool) -> Result<i32, ReportError> {
    let font = face(bold)?.as_scaled(PxScale::from(size as f32));
    let mut caret = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            caret += font.kern(p, id);
        }
        caret += font.h_advance(id);
        prev = Some(id);
    }
    Ok(caret.ceil() as i32)
}

/// Rasterises `text` with its top-left corner (ascender line) at `(x, y)`, calling
/// `put(px, py, coverage)` for every touched pixel.
pub(crate) fn raster(
    text: &str,
    (x, y): (i32, i32),
    size: f64,
    bold: bool,
    mut put: impl FnMut(i32, i32, f32),
) -> Result<(), ReportError> {
    let font = face(bold)?.as_scaled(PxScale::from(size as f32));
    let baseline = y as f32 + font.ascent();
    let mut caret = x as f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            caret += font.kern(p, id);
        }
        let glyph = id.with_scale_and_position(font.scale(), point(caret, baseline));
        caret += font.h_advance(id);
        prev = Some(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|gx, gy, coverage| put(left + gx as i32, top + gy as i32, coverage));
        }
    }
    Ok(())
}

/// Height in pixels from the ascender line to the descender line at `size` px.
pub(crate) fn line_height(size: f64, bold: bool) -> Result<i32, ReportError> {
    let font = face(bold)?.as_scaled(PxScale::from(size as f32));
    Ok((font.ascent() - font.descent()).ceil() as i32)
}
