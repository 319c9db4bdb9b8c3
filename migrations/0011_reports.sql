-- Weekly summaries, monthly bulletins and the quarterly ranking (issue 11): the figures of a period counted
-- from site events as of an instant, the drafts the server prepares on schedule, and published snapshots,
-- which nothing may change.

-- Reports read events by time.
create index site_event_at_idx on site_event (at);
-- A site's town as of a past instant looks for town changes after it: few, and found without reading every
-- site's events.
create index site_event_town_changed_idx on site_event (site_id, id) where kind = 'town_changed';

-- What each site went through within [p_start, p_as_of), and where it stood at p_as_of, read from its events
-- only (never from the site row, which has moved on since): one row per site that existed at p_as_of, or
-- per site of `p_sites` when given (the few sites a list shows).
-- `domain::report::Figures` says in words what each column means; this is the one place it is computed.
--   town_id    the town at p_as_of: the `from` of the first town change after it, else the site's town now;
--   unit_id    the unit of the last dispatch before p_as_of;
--   status     the status of the last event before p_as_of that set one;
--   deadline   the deadline set last before p_as_of (dispatch, approved extension, relapse);
--   counts     the moves of each kind made within the period;
--   days_*     for the median times: report→first dispatch (that dispatch in the period), first dispatch→
--              first acceptance (in the period), first dispatch→last close-out (in the period).
create function report_site_facts(p_start timestamptz, p_as_of timestamptz, p_sites uuid[] default null)
returns table (
    site_id uuid, town_id integer, unit_id integer, status text, deadline date,
    found boolean, verified integer, dispatched integer, closed integer, closed_on_time integer,
    overdue boolean, open boolean, returned integer, look_backs integer, relapsed integer,
    extensions_requested integer, extensions_approved integer,
    supervision_listed integer, supervision_lifted integer, supervision_open boolean,
    days_report_to_dispatch double precision, days_dispatch_to_accept double precision,
    days_dispatch_to_close double precision)
language sql stable parallel safe as $$
-- One hash aggregate over the events before the instant, per site: counts of the period's moves, and the id
-- of the last event that set each state; the states are then read from those events by primary key. (An
-- ordered aggregate would sort every event with its data, several times slower.)
with per_site as (
    select e.site_id,
        max(e.id) filter (where e.to_status is not null) as status_ev,
        max(e.id) filter (where e.kind in ('dispatch', 'look_back_relapse')
                       or (e.kind = 'decide_extension' and (e.data ->> 'approved')::boolean)) as deadline_ev,
        max(e.id) filter (where e.kind = 'dispatch') as unit_ev,
        max(e.id) filter (where e.kind = 'supervise') as supervision_ev,
        min(e.at) filter (where e.kind = 'opened') as opened_at,
        min(e.at) filter (where e.kind = 'dispatch') as first_dispatch_at,
        min(e.at) filter (where e.kind = 'accept') as first_accept_at,
        max(e.at) filter (where e.kind = 'approve' and e.at >= p_start) as last_close_at,
        bool_or(e.kind = 'opened' and e.at >= p_start) as found,
        count(*) filter (where e.at >= p_start and e.kind = 'verify') as verified,
        count(*) filter (where e.at >= p_start and e.kind = 'dispatch') as dispatched,
        count(*) filter (where e.at >= p_start and e.kind = 'approve') as closed,
        count(*) filter (where e.at >= p_start and e.kind = 'return') as returned,
        count(*) filter (where e.at >= p_start and e.kind in ('look_back_pass', 'look_back_relapse')) as look_backs,
        count(*) filter (where e.at >= p_start and e.kind = 'look_back_relapse') as relapsed,
        count(*) filter (where e.at >= p_start and e.kind = 'request_extension') as extensions_requested,
        count(*) filter (where e.at >= p_start and e.kind = 'decide_extension'
                                  and (e.data ->> 'approved')::boolean) as extensions_approved
    from site_event e
    where e.at < p_as_of and (p_sites is null or e.site_id = any(p_sites))
    group by e.site_id
),
closes as (
    select ev.site_id,
        count(*) filter (where (ev.at at time zone 'Asia/Shanghai')::date <= (
            select (case d.kind when 'decide_extension' then d.data ->> 'new_deadline'
                                else d.data ->> 'deadline' end)::date
            from site_event d
            where d.site_id = ev.site_id and d.id < ev.id
              and (d.kind in ('dispatch', 'look_back_relapse')
                   or (d.kind = 'decide_extension' and (d.data ->> 'approved')::boolean))
            order by d.id desc limit 1)) as on_time
    from site_event ev
    where ev.kind = 'approve' and ev.at >= p_start and ev.at < p_as_of
      and (p_sites is null or ev.site_id = any(p_sites))
    group by ev.site_id
),
supervision as (
    select ev.site_id,
        count(*) filter (where ev.data ->> 'level' <> 'none' and coalesce(before.level, 'none') = 'none') as listed,
        count(*) filter (where ev.data ->> 'level' = 'none' and coalesce(before.level, 'none') <> 'none') as lifted
    from site_event ev
    left join lateral (
        select p.data ->> 'level' as level from site_event p
        where p.site_id = ev.site_id and p.id < ev.id and p.kind = 'supervise'
        order by p.id desc limit 1
    ) before on true
    where ev.kind = 'supervise' and ev.at >= p_start and ev.at < p_as_of
      and (p_sites is null or ev.site_id = any(p_sites))
    group by ev.site_id
),
facts as (
    select p.*, st.to_status as status,
        (case dl.kind when 'decide_extension' then dl.data ->> 'new_deadline' else dl.data ->> 'deadline' end)::date
            as deadline,
        (un.data ->> 'responsible_unit_id')::integer as unit_id,
        sv.data ->> 'level' as supervision_level
    from per_site p
    join site_event st on st.id = p.status_ev
    left join site_event dl on dl.id = p.deadline_ev
    left join site_event un on un.id = p.unit_ev
    left join site_event sv on sv.id = p.supervision_ev
)
select p.site_id,
    case when moved.site_id is not null then moved.town_id else s.town_id end,
    p.unit_id, p.status, p.deadline,
    coalesce(p.found, false), p.verified::integer, p.dispatched::integer, p.closed::integer,
    coalesce(c.on_time, 0)::integer,
    site_status_open(p.status) and coalesce(p.deadline < (p_as_of at time zone 'Asia/Shanghai')::date, false),
    site_status_open(p.status),
    p.returned::integer, p.look_backs::integer, p.relapsed::integer,
    p.extensions_requested::integer, p.extensions_approved::integer,
    coalesce(sv.listed, 0)::integer, coalesce(sv.lifted, 0)::integer,
    site_status_open(p.status) and coalesce(p.supervision_level, 'none') <> 'none',
    case when p.first_dispatch_at >= p_start
         then extract(epoch from p.first_dispatch_at - p.opened_at) / 86400 end,
    case when p.first_accept_at >= p_start
         then extract(epoch from p.first_accept_at - p.first_dispatch_at) / 86400 end,
    extract(epoch from p.last_close_at - p.first_dispatch_at) / 86400
from facts p
join site s on s.id = p.site_id
left join closes c on c.site_id = p.site_id
left join supervision sv on sv.site_id = p.site_id
left join (
    select distinct on (e.site_id) e.site_id, t.id as town_id
    from site_event e
    left join town t on t.admin_code = e.data ->> 'from'
    where e.kind = 'town_changed' and e.at >= p_as_of
    order by e.site_id, e.id
) moved on moved.site_id = p.site_id
$$;

-- The sites one figure counts, for the click-through from a report to the map and the ledger
-- (`figure=month:2026-11:overdue`). The names are `domain::report::Figure`'s.
create function report_figure_sites(p_start timestamptz, p_as_of timestamptz, p_figure text)
returns setof uuid
language sql stable parallel safe as $$
    select f.site_id from report_site_facts(p_start, p_as_of) f
    where case p_figure
        when 'found' then f.found
        when 'verified' then f.verified > 0
        when 'dispatched' then f.dispatched > 0
        when 'closed' then f.closed > 0
        when 'closed_on_time' then f.closed_on_time > 0
        when 'overdue' then f.overdue
        when 'open' then f.open
        when 'returned' then f.returned > 0
        when 'look_backs' then f.look_backs > 0
        when 'relapsed' then f.relapsed > 0
        when 'extensions_requested' then f.extensions_requested > 0
        when 'extensions_approved' then f.extensions_approved > 0
        when 'supervision_listed' then f.supervision_listed > 0
        when 'supervision_lifted' then f.supervision_lifted > 0
        when 'supervision_open' then f.supervision_open
        else false end
$$;

-- What a report counted, as a fingerprint of the events before its instant: events are append-only and
-- numbered in order, so the same count, last id and sums mean the same events. An event written later but
-- dated earlier (a late import) changes it.
create function report_inputs_sha256(p_as_of timestamptz) returns text
language sql stable as $$
    select encode(sha256(convert_to(concat_ws('|', count(*), max(id), sum(id),
                                              sum(extract(epoch from at))::numeric(30, 6),
                                              sum(hashtext(kind))), 'UTF8')), 'hex')
    from site_event where at < p_as_of
$$;

-- Drafts the server prepares on schedule (weekly on Monday 08:00, monthly on the 1st, county time) and on
-- request; regenerated in place until the period is published.
create table report_draft (
    kind         text not null constraint report_draft_kind_known check (kind in ('weekly', 'monthly', 'ranking')),
    period       text not null constraint report_draft_period_format check (period ~ '^[0-9]{4}(-W[0-9]{2}|-[0-9]{2}|Q[1-4])$'),
    body         jsonb not null,
    generated_at timestamptz not null default now(),
    -- Who asked for it; null for the schedule.
    generated_by uuid constraint report_draft_user_fkey references app_user (id),
    primary key (kind, period)
);

-- A published report or board: the body as it was published, never changed. A correction is a new version
-- that names the publication it corrects.
create table report_publication (
    id             bigint generated always as identity primary key,
    kind           text not null constraint report_publication_kind_known check (kind in ('weekly', 'monthly', 'ranking')),
    period         text not null constraint report_publication_period_format check (period ~ '^[0-9]{4}(-W[0-9]{2}|-[0-9]{2}|Q[1-4])$'),
    version        integer not null constraint report_publication_version_positive check (version >= 1),
    corrects       bigint constraint report_publication_corrects_fkey references report_publication (id),
    note           text constraint report_publication_note_length check (char_length(note) <= 1000),
    body           jsonb not null,
    inputs_sha256  text not null,
    body_sha256    text not null,
    published_at   timestamptz not null default now(),
    published_by   uuid not null constraint report_publication_user_fkey references app_user (id),
    constraint report_publication_version_unique unique (kind, period, version),
    constraint report_publication_correction_named check ((version = 1) = (corrects is null))
);

create function report_publication_is_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'a published report is immutable: % is not allowed; publish a correction instead', tg_op
        using errcode = 'restrict_violation';
end;
$$;

create trigger report_publication_no_update before update or delete on report_publication
    for each row execute function report_publication_is_immutable();
create trigger report_publication_no_truncate before truncate on report_publication
    for each statement execute function report_publication_is_immutable();
