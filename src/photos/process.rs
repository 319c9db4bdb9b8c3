//! Photo checks and processing: format sniffing, decoder limits, EXIF, thumbnails. CPU-bound: call from
//! `spawn_blocking`.
//!
//! Only JPEG and PNG are accepted (what phone cameras and screenshots produce and every browser shows).
//! Every decode is bounded before it starts: the header's dimensions are checked against the pixel limit,
//! and the decoders get allocation limits, so a small file that claims 100 000 × 100 000 pixels (a
//! decompression bomb) is refused without allocating.

use std::io::Cursor;

use chrono::NaiveDateTime;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

/// Longest side of a thumbnail, pixels.
pub const THUMBNAIL_SIDE_PX: u32 = 320;
const THUMBNAIL_JPEG_QUALITY: u8 = 80;
pub const ACCEPTED_FORMATS: &str = "JPEG (.jpg) or PNG (.png)";

#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    pub bytes_max: usize,
    pub pixels_max: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits { bytes_max: 15 * 1024 * 1024, pixels_max: 50_000_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
}

impl PhotoFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
        }
    }
}

/// What EXIF said, when it said something sensible. Nothing here is trusted for location.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifFacts {
    pub taken_at: Option<NaiveDateTime>,
    /// (longitude, latitude), WGS-84 degrees.
    pub location: Option<(f64, f64)>,
    /// Direction the camera faced, degrees clockwise from north.
    pub direction_deg: Option<f64>,
    /// EXIF orientation 1..=8.
    pub orientation: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct ProcessedPhoto {
    pub sha256: [u8; 32],
    pub format: PhotoFormat,
    pub bytes: usize,
    pub width: u32,
    pub height: u32,
    pub exif: ExifFacts,
    pub thumbnail_jpeg: Vec<u8>,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

impl ProcessedPhoto {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PhotoError {
    #[error("the file is {found}, which is not accepted; send {ACCEPTED_FORMATS}")]
    UnsupportedFormat { found: &'static str },
    #[error("the file is {bytes} bytes; the limit is {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the image is {width} × {height} pixels; the limit is {limit} pixels in all")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the JPEG is truncated (it does not end with the end-of-image marker); upload it again")]
    Truncated,
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

/// Checks and processes one photo: everything that can refuse it happens before anything is stored.
pub fn process(bytes: &[u8], limits: PhotoLimits) -> Result<ProcessedPhoto, PhotoError> {
    if bytes.len() > limits.bytes_max {
        return Err(PhotoError::TooLarge { bytes: bytes.len(), limit: limits.bytes_max });
    }
    let format = sniff(bytes)?;
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    let exif = read_exif(bytes);
    let orientation = exif.orientation.unwrap_or(1);
    let (width, height, thumbnail) = match format {
        PhotoFormat::Jpeg => jpeg_scaled(bytes, limits, THUMBNAIL_SIDE_PX)?,
        PhotoFormat::Png => png_scaled(bytes, limits, THUMBNAIL_SIDE_PX)?,
    };
    let thumbnail = orient(thumbnail, orientation);
    let (thumbnail_width, thumbnail_height) = (thumbnail.width(), thumbnail.height());
    let mut thumbnail_jpeg = Vec::with_capacity(32 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut thumbnail_jpeg, THUMBNAIL_JPEG_QUALITY)
        .encode_image(&thumbnail)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(ProcessedPhoto {
        sha256,
        format,
        bytes: bytes.len(),
        width,
        height,
        exif,
        thumbnail_jpeg,
        thumbnail_width,
        thumbnail_height,
    })
}

/// Tells the format from the first bytes, never from a file name or a client's content type.
pub fn sniff(bytes: &[u8]) -> Result<PhotoFormat, PhotoError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(PhotoFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(PhotoFormat::Png);
    }
    let found = if starts(b"GIF87a") || starts(b"GIF89a") {
        "GIF"
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        "TIFF"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => "HEIC/HEIF",
            b"avif" | b"avis" => "AVIF",
            _ => "an ISO media file (video?)",
        }
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "WebP"
    } else if starts(b"BM") {
        "BMP"
    } else if looks_like_svg(bytes) {
        "SVG"
    } else {
        "not an image"
    };
    Err(PhotoError::UnsupportedFormat { found })
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    head.contains("<svg")
}

fn check_pixels(width: u32, height: u32, limits: PhotoLimits) -> Result<(), PhotoError> {
    if u64::from(width) * u64::from(height) > limits.pixels_max || width == 0 || height == 0 {
        return Err(PhotoError::TooManyPixels { width, height, limit: limits.pixels_max });
    }
    Ok(())
}

/// JPEG: header first (dimensions, pixel limit), then a DCT-scaled decode (1/2, 1/4, 1/8), which is several
/// times faster and smaller than decoding 12 megapixels only to throw most of them away; the result has its
/// longest side at most `side` (see [`shrink`]).
pub(crate) fn jpeg_scaled(
    bytes: &[u8],
    limits: PhotoLimits,
    side: u32,
) -> Result<(u32, u32, DynamicImage), PhotoError> {
    // A JPEG cut short still "decodes" (the rest comes out grey), so insist on the end-of-image marker;
    // some cameras pad after it with zeros.
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end < 4 || bytes[end - 2..end] != [0xFF, 0xD9] {
        return Err(PhotoError::Truncated);
    }
    let corrupt = |e: jpeg_decoder::Error| PhotoError::Corrupt(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(corrupt)?;
    let info = decoder.info().ok_or_else(|| PhotoError::Corrupt("no JPEG frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, limits)?;
    // The decoder allocates width × height × components at the scaled size; bound it by the full size.
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.pixels_max * 4).unwrap_or(usize::MAX));
    let wanted = u16::try_from(side).unwrap_or(u16::MAX);
    let (sw, sh) = decoder.scale(wanted, wanted).map_err(corrupt)?;
    let pixels = decoder.decode().map_err(corrupt)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let format = decoder.info().map(|i| i.pixel_format).ok_or_else(|| PhotoError::Corrupt("no frame".into()))?;
    let scaled = match format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
        jpeg_decoder::PixelFormat::L8 => image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        jpeg_decoder::PixelFormat::L16 => {
            let wide: Vec<u16> = pixels.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            image::ImageBuffer::from_raw(sw, sh, wide).map(DynamicImage::ImageLuma16)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb: Vec<u8> = pixels
                .chunks_exact(4)
                .flat_map(|c| {
                    let k = u16::from(c[3]);
                    [c[0], c[1], c[2]].map(|v| ((u16::from(v) * k) / 255) as u8)
                })
                .collect();
            RgbImage::from_raw(sw, sh, rgb).map(DynamicImage::ImageRgb8)
        }
    }
    .ok_or_else(|| PhotoError::Corrupt("decoded buffer has the wrong size".into()))?;
    Ok((width, height, shrink(&scaled, side)))
}

pub(crate) fn png_scaled(bytes: &[u8], limits: PhotoLimits, side: u32) -> Result<(u32, u32, DynamicImage), PhotoError> {
    let corrupt = |e: image::ImageError| PhotoError::Corrupt(e.to_string());
    let reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let (width, height) = reader.into_dimensions().map_err(corrupt)?;
    check_pixels(width, height, limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(width);
    decoder_limits.max_image_height = Some(height);
    // RGBA with 16 bits per channel is the widest PNG: 8 bytes a pixel.
    decoder_limits.max_alloc = Some(limits.pixels_max * 8 + 64 * 1024 * 1024);
    reader.limits(decoder_limits);
    let image = reader.decode().map_err(corrupt)?;
    Ok((width, height, shrink(&image, side)))
}

/// Longest side to `side`, never enlarged; flattened to RGB for JPEG.
fn shrink(image: &DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    let longest = w.max(h);
    let rgb = if longest <= side {
        image.to_rgb8()
    } else {
        let scale = f64::from(side) / f64::from(longest);
        let tw = ((f64::from(w) * scale).round() as u32).max(1);
        let th = ((f64::from(h) * scale).round() as u32).max(1);
        image.resize_exact(tw, th, image::imageops::FilterType::Triangle).to_rgb8()
    };
    DynamicImage::ImageRgb8(rgb)
}

/// Applies EXIF orientation (TIFF 6.0 tag 274) so thumbnails stand the right way up.
pub(crate) fn orient(image: DynamicImage, orientation: u16) -> DynamicImage {
    match orientation {
        2 => image.fliph(),
        3 => image.rotate180(),
        4 => image.flipv(),
        5 => image.rotate90().fliph(),
        6 => image.rotate90(),
        7 => image.rotate270().fliph(),
        8 => image.rotate270(),
        _ => image,
    }
}

/// Reads the EXIF facts we keep; anything missing, malformed or out of range is simply absent.
pub fn read_exif(bytes: &[u8]) -> ExifFacts {
    use exif::{In, Tag, Value};
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return ExifFacts::default();
    };
    let field = |tag| exif.get_field(tag, In::PRIMARY);
    let rationals = |tag| match field(tag).map(|f| &f.value) {
        Some(Value::Rational(r)) => Some(r.iter().map(|r| r.to_f64()).collect::<Vec<f64>>()),
        _ => None,
    };
    let ascii = |tag| match field(tag).map(|f| &f.value) {
        Some(Value::Ascii(v)) => v.first().map(|s| String::from_utf8_lossy(s).trim().to_string()),
        _ => None,
    };
    // Degrees, minutes, seconds; zero denominators come back as inf/NaN, so check before use.
    let dms = |tag| {
        let v = rationals(tag)?;
        let deg = v.first()? + v.get(1).unwrap_or(&0.0) / 60.0 + v.get(2).unwrap_or(&0.0) / 3600.0;
        deg.is_finite().then_some(deg)
    };
    let location = (|| {
        let mut lat = dms(Tag::GPSLatitude)?;
        let mut lon = dms(Tag::GPSLongitude)?;
        if ascii(Tag::GPSLatitudeRef).as_deref() == Some("S") {
            lat = -lat;
        }
        if ascii(Tag::GPSLongitudeRef).as_deref() == Some("W") {
            lon = -lon;
        }
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && (lat, lon) != (0.0, 0.0))
            .then_some((lon, lat))
    })();
    let direction_deg = rationals(Tag::GPSImgDirection)
        .and_then(|v| v.first().copied())
        .filter(|d| d.is_finite() && (0.0..=360.0).contains(d));
    let orientation = field(Tag::Orientation)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    let taken_at = ascii(Tag::DateTimeOriginal)
        .or_else(|| ascii(Tag::DateTime))
        .and_then(|s| NaiveDateTime::parse_from_str(&s, "%Y:%m:%d %H:%M:%S").ok());
    ExifFacts { taken_at, location, direction_deg, orientation }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
        out
    }

    #[test]
    fn a_jpeg_gets_a_thumbnail_with_the_longest_side_320() {
        let photo = process(&jpeg(1600, 1200), PhotoLimits::default()).unwrap();
        assert_eq!((photo.width, photo.height), (1600, 1200));
        assert_eq!((photo.thumbnail_width, photo.thumbnail_height), (320, 240));
        assert_eq!(sniff(&photo.thumbnail_jpeg), Ok(PhotoFormat::Jpeg));
    }

    #[test]
    fn a_small_image_is_not_enlarged() {
        let photo = process(&jpeg(200, 100), PhotoLimits::default()).unwrap();
        assert_eq!((photo.thumbnail_width, photo.thumbnail_height), (200, 100));
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let full = jpeg(800, 600);
        let cut = &full[..full.len() * 3 / 10];
        assert_eq!(process(cut, PhotoLimits::default()).unwrap_err(), PhotoError::Truncated);
    }

    #[test]
    fn other_formats_are_named() {
        let cases: [(&[u8], &str); 6] = [
            (b"GIF89a\x01\x00\x01\x00", "GIF"),
            (b"II*\0\x08\0\0\0", "TIFF"),
            (b"\0\0\0\x18ftypheic\0\0\0\0", "HEIC/HEIF"),
            (b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>", "SVG"),
            (b"%PDF-1.7", "not an image"),
            (b"", "not an image"),
        ];
        for (bytes, found) in cases {
            assert_eq!(sniff(bytes), Err(PhotoError::UnsupportedFormat { found }));
        }
    }

    #[test]
    fn pixel_limit_is_checked_before_decoding() {
        let limits = PhotoLimits { bytes_max: 1 << 20, pixels_max: 100 * 100 };
        let err = process(&jpeg(200, 100), limits).unwrap_err();
        assert_eq!(err, PhotoError::TooManyPixels { width: 200, height: 100, limit: 10_000 });
    }

    #[test]
    fn orientation_6_turns_a_landscape_thumbnail_upright() {
        let img = orient(DynamicImage::ImageRgb8(RgbImage::new(320, 240)), 6);
        assert_eq!((img.width(), img.height()), (240, 320));
    }
}
