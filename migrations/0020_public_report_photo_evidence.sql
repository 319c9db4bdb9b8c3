-- What a citizen's phone read from each original before resizing it (issue 13), as for inspectors' photos
-- (migration 0009): the report page resizes photos on the phone, and the canvas drops their EXIF, so the
-- page reads the original's EXIF first and sends it as fields. It is evidence for staff, like the original
-- file; no public page and no Open311 answer reads it. An accepted report's observation photos carry it, with
-- the flags it raises against the report (taken 5 km away, 3 days earlier).
alter table public_report_photo add column original_taken_at timestamp;   -- the camera's local time, as EXIF writes it
alter table public_report_photo add column original_utc_offset_s integer; -- EXIF OffsetTimeOriginal, when written
alter table public_report_photo add column original_location geometry(Point, 4326);
alter table public_report_photo add column original_direction_deg real;
alter table public_report_photo add column original_device text;
alter table public_report_photo add column original_bytes bigint;
alter table public_report_photo add column original_width integer;
alter table public_report_photo add column original_height integer;
alter table public_report_photo add constraint public_report_photo_original_offset_range
    check (original_utc_offset_s between -14 * 3600 and 14 * 3600);
alter table public_report_photo add constraint public_report_photo_original_direction_range
    check (original_direction_deg >= 0 and original_direction_deg <= 360);
alter table public_report_photo add constraint public_report_photo_original_device_length
    check (char_length(original_device) <= 64);
alter table public_report_photo add constraint public_report_photo_original_size_positive
    check (original_bytes > 0 and original_width > 0 and original_height > 0);
