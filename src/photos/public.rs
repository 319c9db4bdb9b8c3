//! The public copy of a citizen's photo (issue 13): the picture re-encoded through `image`, its EXIF
//! orientation applied, its longest side at most [`PUBLIC_SIDE_PX`], and no metadata at all. A phone's photo
//! carries where and when it was taken and the phone's make and serial in EXIF (APP1), sometimes XMP (APP1
//! too), an ICC profile (APP2) or a comment; a tracking page or an Open311 client must show none of it. The
//! copy is a new JPEG made from decoded pixels, so nothing of the original file's segments can survive:
//! `image`'s encoder writes only the JFIF header (APP0, no facts about anyone) and the picture. CPU-bound:
//! call from `spawn_blocking`, as [`super::process::process`].

use image::DynamicImage;
use sha2::{Digest, Sha256};

use super::process::{self, PhotoError, PhotoFormat, PhotoLimits, ProcessedPhoto};

/// Longest side of a public copy, pixels: as large as an inspector's phone sends photos.
pub const PUBLIC_SIDE_PX: u32 = 2048;
const PUBLIC_JPEG_QUALITY: u8 = 85;

/// A checked photo with its public copy.
#[derive(Debug, Clone)]
pub struct PublicPhoto {
    /// The checks, EXIF facts (kept for staff) and thumbnail of the original.
    pub processed: ProcessedPhoto,
    /// The metadata-free JPEG.
    pub jpeg: Vec<u8>,
    pub sha256: [u8; 32],
    pub width: u32,
    pub height: u32,
}

/// Checks a photo as [`process::process`] does (every refusal happens there first), then makes its public
/// copy.
pub fn process_public(bytes: &[u8], limits: PhotoLimits) -> Result<PublicPhoto, PhotoError> {
    let processed = process::process(bytes, limits)?;
    let (_, _, image) = match processed.format {
        PhotoFormat::Jpeg => process::jpeg_scaled(bytes, limits, PUBLIC_SIDE_PX)?,
        PhotoFormat::Png => process::png_scaled(bytes, limits, PUBLIC_SIDE_PX)?,
    };
    let image = process::orient(image, processed.exif.orientation.unwrap_or(1));
    let jpeg = encode(&image)?;
    Ok(PublicPhoto {
        sha256: Sha256::digest(&jpeg).into(),
        width: image.width(),
        height: image.height(),
        jpeg,
        processed,
    })
}

fn encode(image: &DynamicImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(512 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, PUBLIC_JPEG_QUALITY)
        .encode_image(&image.to_rgb8())
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// The markers of a JPEG's segments before its image data (after SOI, up to and including SOS), for checking
/// what a file carries. `None` when the file is not a well-formed JPEG.
pub fn jpeg_markers(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut markers = Vec::new();
    let mut at = 2;
    loop {
        let marker = *bytes.get(at + 1).filter(|_| bytes[at] == 0xFF)?;
        markers.push(marker);
        if marker == 0xDA {
            return Some(markers);
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        at += 2 + length;
    }
}

/// Whether a JPEG carries a metadata segment: APP1 (EXIF, XMP), APP2 (ICC, FlashPix), APP3–APP15 (makers'
/// own, IPTC in APP13) or a comment (COM). APP0 (JFIF: a version and a pixel density) is not metadata.
pub fn has_metadata(bytes: &[u8]) -> bool {
    jpeg_markers(bytes).is_none_or(|markers| markers.iter().any(|&m| (0xE1..=0xEF).contains(&m) || m == 0xFE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::{Field, In, Rational, Tag, Value};

    /// A camera's JPEG, landscape, stored turned (orientation 6) with GPS, a time and a comment.
    fn camera_jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 40]));
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90).encode_image(&img).unwrap();
        let field = |tag, value| Field { tag, ifd_num: In::PRIMARY, value };
        let mut writer = exif::experimental::Writer::new();
        let fields = [
            field(Tag::Orientation, Value::Short(vec![6])),
            field(Tag::DateTimeOriginal, Value::Ascii(vec![b"2026:12:01 08:30:00".to_vec()])),
            field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
            field(Tag::GPSLatitude, Value::Rational(vec![Rational::from((31, 1)), Rational::from((52, 1))])),
            field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
            field(Tag::GPSLongitude, Value::Rational(vec![Rational::from((120, 1)), Rational::from((33, 1))])),
        ];
        for f in &fields {
            writer.push_field(f);
        }
        let mut tiff = std::io::Cursor::new(Vec::new());
        writer.write(&mut tiff, true).unwrap();
        let tiff = tiff.into_inner();
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(tiff.len() + 8).unwrap().to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(&tiff);
        let comment = b"owner: Zhang San 13812345678";
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&u16::try_from(comment.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(comment);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn the_public_copy_is_upright_within_2048_and_carries_no_metadata() {
        let original = camera_jpeg(3000, 2000);
        assert!(has_metadata(&original), "the test's original has EXIF and a comment");
        assert!(process::read_exif(&original).location.is_some());

        let photo = process_public(&original, PhotoLimits::default()).unwrap();
        // Orientation 6: stored landscape, seen portrait; the longest side brought to 2048.
        assert_eq!((photo.width, photo.height), (1365, 2048));
        let markers = jpeg_markers(&photo.jpeg).unwrap();
        assert!(!markers.contains(&0xE1), "no APP1 (EXIF/XMP): {markers:02X?}");
        assert!(!markers.contains(&0xFE), "no comment: {markers:02X?}");
        assert!(!has_metadata(&photo.jpeg));
        assert!(exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&photo.jpeg)).is_err());
        assert!(!photo.jpeg.windows(4).any(|w| w == b"Exif"));
        assert!(!photo.jpeg.windows(11).any(|w| w == b"13812345678"));
        // Read back through the decoder: the copy is a whole picture of the stated size.
        let decoded = image::load_from_memory(&photo.jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1365, 2048));
        assert_eq!(photo.sha256, <[u8; 32]>::from(Sha256::digest(&photo.jpeg)));
        // The original's facts are still there for staff.
        assert_eq!(photo.processed.exif.orientation, Some(6));
    }

    #[test]
    fn a_small_photo_is_not_enlarged_and_a_bad_one_is_refused_as_by_process() {
        let photo = process_public(&camera_jpeg(400, 300), PhotoLimits::default()).unwrap();
        assert_eq!((photo.width, photo.height), (300, 400));
        let limits = PhotoLimits { bytes_max: 1 << 20, pixels_max: 100 };
        assert!(matches!(process_public(&camera_jpeg(400, 300), limits), Err(PhotoError::TooManyPixels { .. })));
        assert_eq!(jpeg_markers(b"not a jpeg"), None);
        assert!(has_metadata(b"not a jpeg"), "what cannot be read is not called clean");
    }
}
