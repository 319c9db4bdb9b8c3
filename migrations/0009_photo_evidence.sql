-- What a photo's original said about itself (issue 10, item 2). The phone resizes photos before sending them,
-- which drops their EXIF, so it reads the original's EXIF first and sends it as fields: when and where it was
-- taken, which way the camera faced, which camera, and the original's size. They are kept beside the EXIF the
-- server finds in the uploaded file (`exif_*`, usually absent for a resized photo).
alter table photo add column original_taken_at timestamp;            -- the camera's local time, as EXIF writes it
alter table photo add column original_utc_offset_s integer;          -- EXIF OffsetTimeOriginal, when written
alter table photo add column original_location geometry(Point, 4326);
alter table photo add column original_direction_deg real;
alter table photo add column original_device text;
alter table photo add column original_bytes bigint;
alter table photo add column original_width integer;
alter table photo add column original_height integer;
alter table photo add constraint photo_original_offset_range
    check (original_utc_offset_s between -14 * 3600 and 14 * 3600);
alter table photo add constraint photo_original_direction_range
    check (original_direction_deg >= 0 and original_direction_deg <= 360);
alter table photo add constraint photo_original_device_length check (char_length(original_device) <= 64);
alter table photo add constraint photo_original_size_positive
    check (original_bytes > 0 and original_width > 0 and original_height > 0);

-- Why the photo does not fit its observation (domain::photo_evidence::check): taken more than 5 km from the
-- recorded place, more than 3 days before or after it, or its file's own EXIF disagreeing with the fields.
-- Flagged for a reviewer, never refused. A list of {"code": …, and the numbers}; empty when all is well.
alter table photo add column evidence_flags jsonb not null default '[]';
alter table photo add constraint photo_evidence_flags_list check (jsonb_typeof(evidence_flags) = 'array');
