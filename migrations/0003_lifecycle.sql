-- The close-out lifecycle: remediation evidence per checklist item, extension requests, look-back tasks,
-- and the counters bulletins need.

-- Evidence for one checklist item, submitted by whoever did or checked the work. Append-only in spirit: a
-- correction is a new row; the item's current state lives in site_checklist_item.
create table item_evidence (
    id             uuid primary key default gen_random_uuid(),
    site_id        uuid not null constraint item_evidence_site_fkey references site (id),
    item_code      text not null,
    state          text not null,
    quantity       integer,
    measured       jsonb not null default '{}',
    installed_on   date,
    installer      text,
    reason         text,
    submitted_by   uuid not null constraint item_evidence_user_fkey references app_user (id),
    submitted_at   timestamptz not null default now(),
    constraint item_evidence_item_fkey foreign key (site_id, item_code)
        references site_checklist_item (site_id, item_code),
    constraint item_evidence_state_known check (state in ('missing', 'damaged', 'installed', 'not_applicable')),
    constraint item_evidence_not_applicable_has_reason check (state <> 'not_applicable' or reason is not null),
    constraint item_evidence_quantity_nonnegative check (quantity >= 0),
    constraint item_evidence_installer_length check (char_length(installer) <= 128),
    constraint item_evidence_reason_length check (char_length(reason) <= 1000)
);
create index item_evidence_site_idx on item_evidence (site_id, item_code, submitted_at);

-- A photo belongs to an observation (before) or to an item's evidence (after, night).
alter table photo alter column observation_id drop not null;
alter table photo add column evidence_id uuid constraint photo_evidence_fkey references item_evidence (id);
alter table photo add column role text not null default 'before';
alter table photo add constraint photo_has_one_owner check (num_nonnulls(observation_id, evidence_id) = 1);
alter table photo add constraint photo_role_known check (role in ('before', 'after', 'night'));
alter table photo add constraint photo_role_matches_owner check ((role = 'before') = (observation_id is not null));
alter table photo drop constraint photo_observation_position_key;
alter table photo add constraint photo_owner_position_key unique nulls not distinct (observation_id, evidence_id, position);
create index photo_evidence_idx on photo (evidence_id);

-- Extension requests: at most one pending per site.
create table extension_request (
    id             uuid primary key default gen_random_uuid(),
    site_id        uuid not null constraint extension_request_site_fkey references site (id),
    requested_by   uuid not null constraint extension_request_user_fkey references app_user (id),
    requested_at   timestamptz not null default now(),
    old_deadline   date,
    new_deadline   date not null,
    reason         text not null,
    decided_by     uuid constraint extension_request_decider_fkey references app_user (id),
    decided_at     timestamptz,
    approved       boolean,
    decision_reason text,
    constraint extension_request_decision_complete check (
        (decided_at is null) = (approved is null) and (decided_at is null) = (decided_by is null)),
    constraint extension_request_reason_length check (char_length(reason) between 1 and 1000)
);
create unique index extension_request_one_pending on extension_request (site_id) where decided_at is null;

-- Look-back (回头看) tasks made by the policy; done by an inspector's pass or relapse.
create table look_back_task (
    id            uuid primary key default gen_random_uuid(),
    site_id       uuid not null constraint look_back_task_site_fkey references site (id),
    due_on        date not null,
    policy        text not null,
    created_at    timestamptz not null default now(),
    done_at       timestamptz,
    done_by       uuid constraint look_back_task_user_fkey references app_user (id),
    result        text,
    constraint look_back_task_policy_known check (policy in ('quarterly_major', 'monthly_sample', 'manual')),
    constraint look_back_task_result_known check (result in ('pass', 'relapse')),
    constraint look_back_task_done_complete check ((done_at is null) = (result is null))
);
create unique index look_back_task_one_open on look_back_task (site_id) where done_at is null;

-- Who asked for the close-out now under review (the reviewer must be someone else) and how often work came back.
alter table site add column close_out_requested_by uuid constraint site_close_out_requester_fkey references app_user (id);
alter table site add column return_count integer not null default 0;
alter table site add column relapse_count integer not null default 0;
alter table site add constraint site_counts_nonnegative check (return_count >= 0 and relapse_count >= 0);
create index site_deadline_idx on site (deadline) where status in ('assigned', 'in_progress', 'reopened');
