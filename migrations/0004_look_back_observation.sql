-- A look-back (回头看) is done on site: the inspector's observation is the evidence that passed the site or
-- found it relapsed (反弹). The task records which observation completed it.
alter table look_back_task add column observation_id uuid
    constraint look_back_task_observation_fkey references observation (id);
alter table look_back_task add constraint look_back_task_observation_once unique (observation_id);
-- The observation says it was a look-back, and what it found; ordinary visits leave both null.
alter table observation add column look_back_result text;
alter table observation add constraint observation_look_back_result_known
    check (look_back_result in ('pass', 'relapse'));
