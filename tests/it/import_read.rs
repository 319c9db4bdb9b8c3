//! The import readers against the fictional county in tests/data/county (made by scripts/make-testdata.sh),
//! and against broken copies of it built in a temporary folder: each must be a clear `ReadError` with the
//! expected code, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use geo_types::Geometry;
use roadledger::import::crs::Crs;
use roadledger::import::read::{
    self, Feature, FeatureSource, Format, ProgressUnit, ReadError, ReadLimits, ReadOptions,
};
use serde_json::json;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(path)
}

fn open(path: &Path) -> Box<dyn FeatureSource> {
    read::open(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_all(source: &mut dyn FeatureSource) -> Vec<Feature> {
    let mut out = Vec::new();
    while let Some(f) = source.next_feature() {
        out.push(f.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

/// The error of opening and reading a file to its end.
fn read_error(path: &Path, options: &ReadOptions) -> ReadError {
    match read::open(path, options) {
        Err(e) => e,
        Ok(mut source) => loop {
            match source.next_feature() {
                Some(Err(e)) => break e,
                Some(Ok(_)) => {}
                None => panic!("{} read without an error", path.display()),
            }
        },
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn attr<'a>(f: &'a Feature, key: &str) -> &'a serde_json::Value {
    f.attributes.get(key).unwrap_or(&serde_json::Value::Null)
}

#[test]
fn geojson_towns_and_roads() {
    let mut towns = open(&data("county/towns.geojson"));
    assert_eq!(towns.format(), Format::GeoJson);
    assert_eq!(towns.declared_crs(), Some(Crs::Epsg(4326)));
    assert_eq!(towns.encoding_used(), None);
    let towns = read_all(towns.as_mut());
    assert_eq!(towns.len(), 3);
    assert_eq!(attr(&towns[0], "name"), "杨舍镇");
    assert_eq!(attr(&towns[0], "admin_code"), "320582100");
    assert_eq!(attr(&towns[2], "admin_code"), "320582102");
    assert!(towns.iter().all(|t| matches!(t.geometry, Some(Geometry::MultiPolygon(_)))));

    let mut roads = open(&data("county/roads.geojson"));
    let progress = roads.progress();
    assert_eq!((progress.done, progress.total, progress.unit), (0, 9, ProgressUnit::Features));
    let roads = read_all(roads.as_mut());
    assert_eq!(roads.len(), 9);
    assert_eq!(roads.iter().map(|r| r.number).collect::<Vec<_>>(), (1..=9).collect::<Vec<_>>());
    let x202: Vec<&Feature> = roads.iter().filter(|r| attr(r, "route_code") == "X202").collect();
    assert_eq!(x202.len(), 2);
    assert_eq!(attr(x202[0], "start_stake"), "K0+000");
    assert_eq!(attr(x202[1], "start_stake"), "K5+786");
    // The two sections join end to end.
    let (Some(Geometry::LineString(a)), Some(Geometry::LineString(b))) = (&x202[0].geometry, &x202[1].geometry) else {
        panic!("X202 sections are not LineStrings");
    };
    assert_eq!(a.0.last(), b.0.first());
    let unnamed_routes: Vec<&str> =
        roads.iter().filter(|r| attr(r, "route_code").is_null()).map(|r| attr(r, "name").as_str().unwrap()).collect();
    assert_eq!(unnamed_routes, ["东港路", "河北组道路"]);
}

#[test]
fn geojson_legacy_crs_member_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("towns-4549.geojson");
    std::fs::write(
        &path,
        json!({
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
            "features": [{"type": "Feature", "properties": {"name": "杨舍镇"},
                          "geometry": {"type": "Point", "coordinates": [557000.0, 3524000.0]}}]
        })
        .to_string(),
    )
    .unwrap();
    let mut source = open(&path);
    assert_eq!(source.declared_crs(), Some(Crs::Epsg(4549)));
    assert_eq!(read_all(source.as_mut()).len(), 1);

    // A bare geometry is one feature with no attributes.
    let bare = dir.path().join("bare.geojson");
    std::fs::write(&bare, r#"{"type":"LineString","coordinates":[[120.6,31.8],[120.7,31.9]]}"#).unwrap();
    let features = read_all(open(&bare).as_mut());
    assert_eq!(features.len(), 1);
    assert!(features[0].attributes.is_empty());
}

#[test]
fn gbk_shapefile_folder() {
    let mut source = open(&data("county/roads-gbk"));
    assert_eq!(source.format(), Format::Shapefile);
    assert_eq!(source.declared_crs(), Some(Crs::Epsg(4326)));
    assert_eq!(source.encoding_used().as_deref(), Some("GBK (from roads.cpg)"));
    let roads = read_all(source.as_mut());
    assert_eq!(roads.len(), 9);
    assert_eq!(attr(&roads[0], "LXBM"), "X202");
    assert_eq!(attr(&roads[0], "LXMC"), "港城大道");
    assert_eq!(attr(&roads[0], "QDZH"), &json!(0));
    assert_eq!(attr(&roads[1], "QDZH"), &json!(5786));
    assert_eq!(attr(&roads[5], "LXMC"), "永联村道");
    assert_eq!(attr(&roads[5], "ZDZH").as_f64(), Some(3258.92));
    // Village roads without a route code: blank LXBM and stakes are null.
    assert_eq!(attr(&roads[7], "LXMC"), "东港路");
    assert!(attr(&roads[7], "LXBM").is_null());
    assert!(attr(&roads[7], "QDZH").is_null());
    assert!(matches!(roads[0].geometry, Some(Geometry::LineString(ref l)) if l.0.len() == 3));
    assert_eq!(source.progress().done, 9);
    assert!(source.warnings().is_empty());
}

#[test]
fn gbk_shapefile_zip_and_single_file() {
    let mut zipped = open(&data("county/roads-gbk.zip"));
    let roads = read_all(zipped.as_mut());
    assert_eq!(roads.len(), 9);
    assert_eq!(attr(&roads[3], "LXMC"), "凤塘线");

    let roads = read_all(open(&data("county/roads-gbk/roads.shp")).as_mut());
    assert_eq!(attr(&roads[2], "LXMC"), "南环路");
}

#[test]
fn town_shapefiles_declare_their_crs() {
    for (folder, code) in
        [("towns-4549", 4549), ("towns-4549-esri", 4549), ("towns-4549-ogc", 4549), ("towns-4490", 4490)]
    {
        let mut source = open(&data(&format!("county/{folder}")));
        assert_eq!(source.declared_crs(), Some(Crs::Epsg(code)), "{folder}");
        let towns = read_all(source.as_mut());
        assert_eq!(towns.len(), 3, "{folder}");
        assert_eq!(attr(&towns[0], "name"), "杨舍镇", "{folder}");
        assert_eq!(attr(&towns[1], "name"), "塘桥镇", "{folder}");
        assert_eq!(attr(&towns[2], "admin_code"), "320582102", "{folder}");
        let Some(Geometry::MultiPolygon(mp)) = &towns[0].geometry else { panic!("{folder}: not a MultiPolygon") };
        assert_eq!(mp.0.len(), 1);
        if code == 4549 {
            // Gauss–Krüger metres: false easting 500 000 m at the CM (120°E); the county is 47–67 km east of it.
            let x = mp.0[0].exterior().0[0].x;
            assert!((540_000.0..570_000.0).contains(&x), "{folder}: x = {x}");
        }
    }
    let utf8 = open(&data("county/towns-4490"));
    assert_eq!(utf8.encoding_used().as_deref(), Some("UTF-8 (default: no .cpg and no language driver byte)"));
}

#[test]
fn geopackage_roads() {
    let mut source = open(&data("county/roads.gpkg"));
    assert_eq!(source.format(), Format::GeoPackage);
    assert_eq!(source.declared_crs(), Some(Crs::Epsg(4326)));
    assert_eq!(source.progress().total, 9);
    let roads = read_all(source.as_mut());
    assert_eq!(roads.len(), 9);
    assert_eq!(attr(&roads[0], "route_code"), "X202");
    assert_eq!(attr(&roads[0], "name"), "港城大道");
    assert_eq!(attr(&roads[1], "start_stake"), "K5+786");
    assert!(attr(&roads[8], "route_code").is_null());
    assert_eq!(attr(&roads[8], "name"), "河北组道路");
    let Some(Geometry::LineString(line)) = &roads[0].geometry else { panic!("not a LineString") };
    assert_eq!((line.0[0].x, line.0[0].y), (120.515, 31.8));

    let err =
        read::open(&data("county/roads.gpkg"), &ReadOptions { layer: Some("towns".into()), ..Default::default() })
            .err()
            .unwrap();
    assert_eq!(err.code(), "layer");
    assert_eq!(err.to_string(), "roads.gpkg: has no features table named \"towns\"; it holds: roads");
}

#[test]
fn osm_roads_skip_the_footway() {
    let mut source = open(&data("county/roads.osm.pbf"));
    assert_eq!(source.format(), Format::OsmPbf);
    assert_eq!(source.declared_crs(), Some(Crs::Epsg(4326)));
    assert_eq!(source.progress().unit, ProgressUnit::Bytes);
    let roads = read_all(source.as_mut());
    assert_eq!(roads.len(), 9);
    assert!(roads.iter().all(|r| attr(r, "highway") != "footway"));
    assert_eq!(attr(&roads[0], "osm_id"), "w1000");
    assert_eq!(attr(&roads[0], "ref"), "X202");
    assert_eq!(attr(&roads[0], "name"), "港城大道");
    assert_eq!(attr(&roads[0], "highway"), "secondary");
    assert!(attr(&roads[7], "ref").is_null());
    assert_eq!(attr(&roads[7], "name"), "东港路");
    let Some(Geometry::LineString(line)) = &roads[0].geometry else { panic!("not a LineString") };
    assert_eq!(line.0.len(), 3);
    assert!((line.0[0].x - 120.515).abs() < 1e-7 && (line.0[0].y - 31.8).abs() < 1e-7);
    let progress = source.progress();
    assert_eq!(progress.done, progress.total);
    assert!(source.warnings().is_empty());
    // A way has only its own tags: the reader declares every attribute it keeps, so fields are not mapped
    // from the first way alone (one without a ref would drop the route codes of the whole file).
    assert_eq!(source.attribute_names().unwrap(), ["highway", "ref", "name", "name:zh", "osm_id"]);

    // With footways asked for, the footway comes too.
    let options = ReadOptions { osm_highways: Some(vec!["footway".into()]), ..Default::default() };
    let footways = read_all(read::open(&data("county/roads.osm.pbf"), &options).unwrap().as_mut());
    assert_eq!(footways.len(), 1);
    assert_eq!(attr(&footways[0], "name"), "滨河步道");
}

#[test]
fn osm_clipped_way_keeps_its_part_inside() {
    let mut source = open(&data("osm-clipped.osm.pbf"));
    let roads = read_all(source.as_mut());
    assert_eq!(roads.len(), 1);
    assert!(matches!(&roads[0].geometry, Some(Geometry::LineString(l)) if l.0.len() == 2));
    assert_eq!(source.warnings(), ["1 ways cut at the extract's edge: kept their parts inside"]);
}

// ---- broken inputs ----

#[test]
fn missing_dbf() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    std::fs::remove_file(dir.path().join("roads.dbf")).unwrap();
    let err = read_error(&dir.path().join("roads.shp"), &ReadOptions::default());
    assert_eq!(err.code(), "missing_file");
    assert!(err.to_string().starts_with("roads.dbf is missing: a shapefile needs .shp, .shx and .dbf"), "{err}");
}

#[test]
fn shp_header_claiming_2_gb() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    let shp = dir.path().join("roads.shp");
    let mut bytes = std::fs::read(&shp).unwrap();
    bytes[24..28].copy_from_slice(&(1_073_741_824u32).to_be_bytes()); // 2 GiB in 16-bit words
    std::fs::write(&shp, &bytes).unwrap();
    let err = read_error(&shp, &ReadOptions::default());
    assert_eq!(err.code(), "truncated");
    assert_eq!(
        err.to_string(),
        "roads.shp: the header claims 2 147 483 648 bytes, the file has 1 052; it is cut short or damaged — copy it again"
    );
}

#[test]
fn shp_record_claiming_more_points_than_the_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    let shp = dir.path().join("roads.shp");
    let mut bytes = std::fs::read(&shp).unwrap();
    // Record 1: 8-byte record header at 100, shape type, bbox, numParts at 100+8+36, numPoints at 100+8+40.
    bytes[148..152].copy_from_slice(&900_000i32.to_le_bytes());
    std::fs::write(&shp, &bytes).unwrap();
    let err = read_error(&shp, &ReadOptions::default());
    assert_eq!(err.code(), "truncated");
    assert!(
        err.to_string().starts_with("roads.shp: record 1: 900 000 points in 1 parts claimed, the record has 96 bytes"),
        "{err}"
    );

    // Beyond the vertex limit it is a limit error before any allocation.
    bytes[148..152].copy_from_slice(&i32::MAX.to_le_bytes());
    std::fs::write(&shp, &bytes).unwrap();
    let err = read_error(&shp, &ReadOptions::default());
    assert_eq!(err.code(), "limit");
    assert!(err.to_string().contains("record 1: 2 147 483 647 points"), "{err}");
}

#[test]
fn dbf_claiming_more_records_than_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    let dbf = dir.path().join("roads.dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&dbf, &bytes).unwrap();
    let err = read_error(&dir.path().join("roads.shp"), &ReadOptions::default());
    assert_eq!(err.code(), "truncated");
    assert!(err.to_string().starts_with("roads.dbf: the header claims 4 294 967 295 records of 194 bytes"), "{err}");
}

#[test]
fn gbk_read_as_utf8_is_an_encoding_error() {
    let options = ReadOptions { encoding: Some(encoding_rs::UTF_8), ..Default::default() };
    let err = read_error(&data("county/roads-gbk"), &options);
    assert_eq!(err.code(), "bad_encoding");
    assert_eq!(
        err.to_string(),
        "roads.dbf: record 1, field LXMC: not valid UTF-8 (UTF-8 (from --encoding)); pass --encoding gbk (Chinese office files are usually GBK)"
    );

    // Without the .cpg the reader falls back to strict UTF-8 and says the same.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    std::fs::remove_file(dir.path().join("roads.cpg")).unwrap();
    let err = read_error(dir.path(), &ReadOptions::default());
    assert_eq!(err.code(), "bad_encoding");
    assert!(err.to_string().contains("pass --encoding gbk"), "{err}");
    // … and --encoding gbk fixes it.
    let options = ReadOptions { encoding: Some(encoding_rs::GBK), ..Default::default() };
    let roads = read_all(read::open(dir.path(), &options).unwrap().as_mut());
    assert_eq!(attr(&roads[0], "LXMC"), "港城大道");
}

#[test]
fn truncated_pbf() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("county/roads.osm.pbf")).unwrap();
    let path = dir.path().join("roads.osm.pbf");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_error(&path, &ReadOptions::default());
    assert_eq!(err.code(), "truncated");
    assert!(
        err.to_string()
            .starts_with(&format!("roads.osm.pbf: truncated at byte {} (blob 3 of 360 bytes", bytes.len() / 2)),
        "{err}"
    );
}

#[test]
fn pbf_blob_claiming_2_gb() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data("county/roads.osm.pbf")).unwrap();
    // The first BlobHeader: 4-byte length, then "type" (0x0A, 9, "OSMHeader"), then datasize (0x18, varint).
    let header_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    let at = 4 + 2 + 9;
    assert_eq!(bytes[at], 0x18);
    // Replace the varint by 2^31 (5 bytes), fixing the header length.
    let old_end = (at + 1..).find(|&i| bytes[i] & 0x80 == 0).unwrap() + 1;
    let huge = [0x80, 0x80, 0x80, 0x80, 0x08];
    bytes.splice(at + 1..old_end, huge);
    let new_len = header_len + huge.len() - (old_end - at - 1);
    bytes[..4].copy_from_slice(&(new_len as u32).to_be_bytes());
    let path = dir.path().join("roads.osm.pbf");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_error(&path, &ReadOptions::default());
    assert_eq!(err.code(), "limit");
    assert!(err.to_string().contains("blob 1 at byte 0 claims 2 147 483 648 bytes"), "{err}");
}

fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, content) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn zip_with_path_traversal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roads.zip");
    let shp = std::fs::read(data("county/roads-gbk/roads.shp")).unwrap();
    write_zip(&path, &[("roads.shp", &shp), ("../evil", b"gotcha")]);
    let err = read_error(&path, &ReadOptions::default());
    assert_eq!(err.code(), "bad_zip");
    assert!(err.to_string().contains("\"../evil\" would be written outside"), "{err}");
    assert!(!dir.path().parent().unwrap().join("evil").exists());
}

#[test]
fn zip_over_the_unzip_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roads.zip");
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for ext in ["shp", "shx", "dbf", "cpg", "prj"] {
        entries.push((format!("roads.{ext}"), std::fs::read(data(&format!("county/roads-gbk/roads.{ext}"))).unwrap()));
    }
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    write_zip(&path, &refs);
    let options =
        ReadOptions { limits: ReadLimits { unzipped_bytes_max: 2_000, ..Default::default() }, ..Default::default() };
    let err = read_error(&path, &options);
    assert_eq!(err.code(), "limit");
    assert!(err.to_string().starts_with("roads.zip: its entries unpack to 3 "), "{err}");
    // Within the default limit the same zip reads.
    assert_eq!(read_all(open(&path).as_mut()).len(), 9);
}

#[test]
fn invalid_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roads.geojson");
    std::fs::write(&path, r#"{"type":"FeatureCollection","features":[{"type":"Feature","#).unwrap();
    let err = read_error(&path, &ReadOptions::default());
    assert_eq!(err.code(), "corrupt");
    assert!(err.to_string().starts_with("roads.geojson: not valid JSON: EOF while parsing"), "{err}");
}

#[test]
fn extension_that_lies_and_unknown_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roads.geojson");
    std::fs::copy(data("county/roads-gbk.zip"), &path).unwrap();
    let err = read_error(&path, &ReadOptions::default());
    assert_eq!(err.code(), "unsupported_format");
    assert_eq!(
        err.to_string(),
        "roads.geojson: the name says JSON text (GeoJSON) but the content is a zip archive; check you picked the right file, or rename it"
    );
    let path = dir.path().join("roads.txt");
    std::fs::write(&path, "LXBM,LXMC\n").unwrap();
    assert_eq!(read_error(&path, &ReadOptions::default()).code(), "unsupported_format");
    let dbf = read_error(&data("county/roads-gbk/roads.dbf"), &ReadOptions::default());
    assert_eq!(dbf.code(), "unsupported_format");
}

#[test]
fn several_shapefiles_need_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&data("county/roads-gbk"), dir.path());
    copy_dir(&data("county/towns-4549"), dir.path());
    let err = read_error(dir.path(), &ReadOptions::default());
    assert_eq!(err.code(), "layer");
    assert!(err.to_string().ends_with("holds 2 shapefiles (roads, towns); choose one with --layer NAME"), "{err}");
    let options = ReadOptions { layer: Some("towns".into()), ..Default::default() };
    let mut towns = read::open(dir.path(), &options).unwrap();
    assert_eq!(towns.declared_crs(), Some(Crs::Epsg(4549)));
    assert_eq!(read_all(towns.as_mut()).len(), 3);
}
