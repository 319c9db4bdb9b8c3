-- The holiday calendar (issue 12, time patterns): China's public holidays and make-up working days (调休) as
-- the State Council's General Office published them each year (国务院办公厅关于 YYYY 年部分节假日安排的通知,
-- 国办发明电). A holiday row is a day off, whatever the weekday; a workday row is a Saturday or Sunday worked
-- in exchange. Any other day is a working day Monday to Friday and a rest day at the weekend.
--
-- Only days inside their own year are listed (2023's New Year break began on 2022-12-31, a Saturday, which is
-- a rest day anyway). 2027's notice could not be checked against its published text when this was written,
-- so it is not guessed here: an admin adds a year with `PUT /api/v1/calendar/{year}` (README).

-- Days `first`..`last` (inclusive) as holidays of one name.
create function pg_temp.holidays(first date, last date, holiday text) returns void language sql as $$
    insert into calendar_day (day, kind, name)
    select d::date, 'holiday', holiday from generate_series(first, last, interval '1 day') as d
$$;

create function pg_temp.workdays(days date[], holiday text) returns void language sql as $$
    insert into calendar_day (day, kind, name) select d, 'workday', holiday from unnest(days) as d
$$;

-- 2023: 国办发明电〔2022〕16号.
select pg_temp.holidays('2023-01-01', '2023-01-02', '元旦');
select pg_temp.holidays('2023-01-21', '2023-01-27', '春节');
select pg_temp.workdays('{2023-01-28,2023-01-29}', '春节');
select pg_temp.holidays('2023-04-05', '2023-04-05', '清明节');
select pg_temp.holidays('2023-04-29', '2023-05-03', '劳动节');
select pg_temp.workdays('{2023-04-23,2023-05-06}', '劳动节');
select pg_temp.holidays('2023-06-22', '2023-06-24', '端午节');
select pg_temp.workdays('{2023-06-25}', '端午节');
select pg_temp.holidays('2023-09-29', '2023-10-06', '中秋节、国庆节');
select pg_temp.workdays('{2023-10-07,2023-10-08}', '中秋节、国庆节');

-- 2024: 国办发明电〔2023〕7号. New Year's Day and the Dragon Boat Festival join a weekend without exchange.
select pg_temp.holidays('2024-01-01', '2024-01-01', '元旦');
select pg_temp.holidays('2024-02-10', '2024-02-17', '春节');
select pg_temp.workdays('{2024-02-04,2024-02-18}', '春节');
select pg_temp.holidays('2024-04-04', '2024-04-06', '清明节');
select pg_temp.workdays('{2024-04-07}', '清明节');
select pg_temp.holidays('2024-05-01', '2024-05-05', '劳动节');
select pg_temp.workdays('{2024-04-28,2024-05-11}', '劳动节');
select pg_temp.holidays('2024-06-10', '2024-06-10', '端午节');
select pg_temp.holidays('2024-09-15', '2024-09-17', '中秋节');
select pg_temp.workdays('{2024-09-14}', '中秋节');
select pg_temp.holidays('2024-10-01', '2024-10-07', '国庆节');
select pg_temp.workdays('{2024-09-29,2024-10-12}', '国庆节');

-- 2025: 国办发明电〔2024〕12号, the first year of the revised 全国年节及纪念日放假办法 (Spring Festival and
-- Labour Day one day longer).
select pg_temp.holidays('2025-01-01', '2025-01-01', '元旦');
select pg_temp.holidays('2025-01-28', '2025-02-04', '春节');
select pg_temp.workdays('{2025-01-26,2025-02-08}', '春节');
select pg_temp.holidays('2025-04-04', '2025-04-06', '清明节');
select pg_temp.holidays('2025-05-01', '2025-05-05', '劳动节');
select pg_temp.workdays('{2025-04-27}', '劳动节');
select pg_temp.holidays('2025-05-31', '2025-06-02', '端午节');
select pg_temp.holidays('2025-10-01', '2025-10-08', '国庆节、中秋节');
select pg_temp.workdays('{2025-09-28,2025-10-11}', '国庆节、中秋节');

-- 2026: 国办发明电〔2025〕7号 (4 November 2025).
select pg_temp.holidays('2026-01-01', '2026-01-03', '元旦');
select pg_temp.workdays('{2026-01-04}', '元旦');
select pg_temp.holidays('2026-02-15', '2026-02-23', '春节');
select pg_temp.workdays('{2026-02-14,2026-02-28}', '春节');
select pg_temp.holidays('2026-04-04', '2026-04-06', '清明节');
select pg_temp.holidays('2026-05-01', '2026-05-05', '劳动节');
select pg_temp.workdays('{2026-05-09}', '劳动节');
select pg_temp.holidays('2026-06-19', '2026-06-21', '端午节');
select pg_temp.holidays('2026-09-25', '2026-09-27', '中秋节');
select pg_temp.holidays('2026-10-01', '2026-10-07', '国庆节');
select pg_temp.workdays('{2026-09-20,2026-10-10}', '国庆节');

-- A holiday falls on a day off by definition; a make-up working day is always a Saturday or Sunday. A list
-- that breaks this was typed wrong (this check ran on the rows above; the API checks a year it is sent).
do $$
begin
    if exists (select from calendar_day where kind = 'workday' and extract(isodow from day) < 6) then
        raise exception 'a make-up working day that is not a Saturday or Sunday';
    end if;
end $$;
