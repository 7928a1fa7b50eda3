-- A batch of answers in one call, row by row in set-based statements (PostgreSQL only;
-- ../0025_answer_batches.sql is its empty twin). With four bot processes on one database (issue 22) the
-- server's CPU is what the processes share, and one process answering on it reached about half the
-- rate of SQLite: the server spent 0.45-0.6 ms of CPU per answer against the bot process's 0.25-0.3.
-- Profiled, that time was spread over the executor's per-statement work (start, open and lock the
-- table and its indexes, foreign-key checks, end) for the fourteen statements of each call of
-- crowdpulse_record_answer, not over any one table or index. The answers of a group commit now go in
-- one call (bot/store/pg_answers.py), and each statement writes the rows of all of them: with one bot
-- process answering 4,000 times, 0.61-1.02 -> 0.38-0.46 ms of server CPU per answer (README, issue 22).
--
-- It decides what crowdpulse_record_answer decided, answer by answer, in the order given: the round's
-- gate (share-locked: a close waits for the answers in flight), the member's row lock before their day
-- is read, the quota's turn, one answer per member per task (the UNIQUE constraint), the daily cap, the
-- streak and its bonus, every scope's score and the badges reached. Set-based statements need each
-- member once per call (their rows are upserted once), so the caller sends a member's second answer
-- of the same group commit in a second call. A task with a quota is decided in order, answer by answer
-- (its count is what the next answer's turn reads). The answer counts of other tasks stay with the
-- caller's ScoreBook (migration 0024).

DROP FUNCTION crowdpulse_record_answer(
    BIGINT, TEXT, BIGINT, TEXT, TEXT, BIGINT, BIGINT, BOOLEAN, INTEGER, BOOLEAN, BIGINT, BIGINT, BIGINT, TEXT, TEXT,
    BOOLEAN, TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT[], TEXT[], TEXT[], BIGINT[]
);
CREATE FUNCTION crowdpulse_record_answers(
    p_round_id BIGINT[], p_task_id TEXT[], p_user_id BIGINT[], p_value TEXT[], p_created_at TEXT[],
    p_space_id BIGINT[], p_quota BIGINT[], p_typed BOOLEAN[], p_shard INTEGER,
    p_award_space_id BIGINT[], p_award_round_id BIGINT[], p_delta BIGINT[], p_reason TEXT[], p_detail TEXT[],
    p_capped BOOLEAN[], p_local_at TEXT[], p_today TEXT[], p_yesterday TEXT[], p_week TEXT[],
    p_daily_cap BIGINT[], p_streak_bonus BIGINT[],
    -- per answer, an array literal each: the score scopes, and the badges with their counters and thresholds
    p_scopes TEXT[], p_badges TEXT[], p_badge_counters TEXT[], p_badge_at_least TEXT[]
) RETURNS TABLE (
    out_status TEXT, out_answer_id BIGINT, out_paid BIGINT, out_streak_days BIGINT, out_streak_bonus BIGINT,
    out_capped BOOLEAN, out_scopes TEXT[], out_points BIGINT[], out_badges TEXT[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_status TEXT[];  -- per answer: its refusal, NULL while it goes on
    v_answer_id BIGINT[] := array_fill(NULL::BIGINT, ARRAY[cardinality(p_round_id)]);  -- quota answers' rows
    v_id BIGINT;
BEGIN
    -- The rounds' gate, share-locked, and the bans.
    SELECT array_agg(
            CASE WHEN r.status IS DISTINCT FROM 'open' THEN 'round_closed'
                 WHEN EXISTS (SELECT 1 FROM bans b WHERE b.space_id = r.space_id AND b.user_id = a.user_id)
                     THEN 'banned' END
            ORDER BY a.n)
        INTO v_status
        FROM unnest(p_round_id, p_user_id) WITH ORDINALITY AS a (round_id, user_id, n)
        LEFT JOIN LATERAL (SELECT o.status, o.space_id FROM rounds o WHERE o.id = a.round_id FOR SHARE) r ON true;
    -- The members' locks (a write: see bot/store/dialects.py lock_member); their days are read after it.
    UPDATE users SET id = id
        WHERE id IN (SELECT a.user_id FROM unnest(p_user_id, v_status) AS a (user_id, status) WHERE a.status IS NULL);
    -- A task with a quota takes turns, answer by answer: each one counted is what the next one's check reads.
    FOR i IN 1 .. cardinality(p_round_id) LOOP
        CONTINUE WHEN p_quota[i] IS NULL OR v_status[i] IS NOT NULL;
        PERFORM pg_advisory_xact_lock(hashtext('quota:' || p_round_id[i] || ':' || p_task_id[i]));
        IF (SELECT SUM(c.answers) FROM task_counts c WHERE c.round_id = p_round_id[i] AND c.task_id = p_task_id[i])
                >= p_quota[i] THEN
            v_status[i] := 'quota_full';
            CONTINUE;
        END IF;
        IF p_typed[i] THEN
            DELETE FROM pending_inputs q
                WHERE q.user_id = p_user_id[i] AND q.round_id = p_round_id[i] AND q.task_id = p_task_id[i];
        END IF;
        INSERT INTO answers (round_id, task_id, user_id, value, created_at, space_id)
            VALUES (p_round_id[i], p_task_id[i], p_user_id[i], p_value[i], p_created_at[i], p_space_id[i])
            ON CONFLICT DO NOTHING RETURNING id INTO v_id;
        IF v_id IS NULL THEN
            v_status[i] := 'already_answered';
            CONTINUE;
        END IF;
        v_answer_id[i] := v_id;
        INSERT INTO task_counts AS c (round_id, task_id, shard, answers) VALUES (p_round_id[i], p_task_id[i], p_shard, 1)
            ON CONFLICT (round_id, task_id, shard) DO UPDATE SET answers = c.answers + 1;
    END LOOP;
    IF true = ANY (p_typed) THEN  -- the free-text inputs the other answers settle
        DELETE FROM pending_inputs q
            USING unnest(p_user_id, p_round_id, p_task_id, p_typed, p_quota, v_status)
                AS a (user_id, round_id, task_id, typed, quota, status)
            WHERE a.typed AND a.quota IS NULL AND a.status IS NULL
                AND q.user_id = a.user_id AND q.round_id = a.round_id AND q.task_id = a.task_id;
    END IF;
    RETURN QUERY
    WITH given AS (
        SELECT * FROM unnest(
                p_round_id, p_task_id, p_user_id, p_value, p_created_at, p_space_id, p_award_space_id,
                p_award_round_id, p_delta, p_reason, p_detail, p_capped, p_local_at, p_today, p_yesterday, p_week,
                p_daily_cap, p_streak_bonus, p_scopes, p_badges, p_badge_counters, p_badge_at_least, v_status,
                v_answer_id)
            WITH ORDINALITY AS a (
                round_id, task_id, user_id, value, created_at, space_id, award_space_id, award_round_id, delta,
                reason, detail, capped, local_at, today, yesterday, week, daily_cap, streak_bonus, scopes, badges,
                badge_counters, badge_at_least, status, quota_answer_id, n)
    ), inserted AS (
        INSERT INTO answers (round_id, task_id, user_id, value, created_at, space_id)
            SELECT g.round_id, g.task_id, g.user_id, g.value, g.created_at, g.space_id FROM given g
                WHERE g.status IS NULL AND g.quota_answer_id IS NULL ORDER BY g.n
            ON CONFLICT DO NOTHING RETURNING id, round_id, task_id, user_id
    ), recorded AS (
        SELECT g.*, COALESCE(g.quota_answer_id, i.id) AS answer_id
            FROM given g LEFT JOIN inserted i
                ON i.round_id = g.round_id AND i.task_id = g.task_id AND i.user_id = g.user_id
            WHERE g.status IS NULL AND (g.quota_answer_id IS NOT NULL OR i.id IS NOT NULL)
    ), counted AS (
        INSERT INTO user_counters AS u (user_id, counter, value) SELECT r.user_id, 'answers', 1 FROM recorded r
            ON CONFLICT (user_id, counter) DO UPDATE SET value = u.value + 1 RETURNING u.user_id, u.value
    ), paid AS (  -- the daily cap and the streak, from the member's day as it was before this answer
        SELECT r.*, c.value AS answers,
            CASE WHEN r.capped AND r.daily_cap > 0 AND r.delta > 0
                THEN GREATEST(0, LEAST(r.delta, r.daily_cap - COALESCE(d.earned, 0))) ELSE r.delta END AS award,
            CASE WHEN NOT r.capped THEN 0
                 WHEN s.last_day = r.today THEN s.length
                 WHEN s.last_day = r.yesterday THEN COALESCE(s.length, 0) + 1
                 ELSE 1 END AS streak_days,
            r.capped AND s.last_day IS DISTINCT FROM r.today AS new_day
        FROM recorded r
            JOIN counted c ON c.user_id = r.user_id
            LEFT JOIN daily_points d ON d.user_id = r.user_id AND d.day = r.today
            LEFT JOIN streaks s ON s.user_id = r.user_id
    ), ledgered AS (  -- each answer's award, then its streak bonus (once a day: the bonus's key says which)
        INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)
            SELECT e.user_id, e.award_space_id, e.award_round_id, e.week, e.delta, e.reason, e.detail, e.source_key,
                e.local_at
            FROM (
                SELECT p.n, 0 AS part, p.user_id, p.award_space_id, p.award_round_id, p.week, p.award AS delta,
                    p.reason, p.detail, 'answer:' || p.answer_id AS source_key, p.local_at
                FROM paid p
                UNION ALL
                SELECT p.n, 1, p.user_id, p.award_space_id, p.award_round_id, p.week, p.streak_bonus, 'streak',
                    p.streak_days::TEXT, 'streak:' || p.user_id || ':' || p.today, p.local_at
                FROM paid p WHERE p.new_day AND p.streak_days >= 2 AND p.streak_bonus > 0
            ) e
            ORDER BY e.n, e.part
            ON CONFLICT (source_key) DO NOTHING RETURNING user_id, delta, source_key
    ), bonuses AS (
        SELECT l.user_id, l.delta FROM ledgered l WHERE l.source_key LIKE 'streak:%'
    ), days AS (
        INSERT INTO daily_points AS d (user_id, day, earned) SELECT p.user_id, p.today, p.award FROM paid p WHERE p.capped
            ON CONFLICT (user_id, day) DO UPDATE SET earned = d.earned + excluded.earned
    ), streaked AS (
        INSERT INTO streaks AS s (user_id, last_day, length, best)
            SELECT p.user_id, p.today, p.streak_days, p.streak_days FROM paid p WHERE p.new_day
            ON CONFLICT (user_id) DO UPDATE SET last_day = excluded.last_day, length = excluded.length,
                best = CASE WHEN s.best > excluded.length THEN s.best ELSE excluded.length END
    ), totals AS (
        SELECT p.*, COALESCE(b.delta, 0) AS bonus, p.award + COALESCE(b.delta, 0) AS total
            FROM paid p LEFT JOIN bonuses b ON b.user_id = p.user_id
    ), scored AS (
        INSERT INTO scores AS t (scope, user_id, points)
            SELECT feed.scope, o.user_id, o.total FROM totals o, unnest(o.scopes::TEXT[]) AS feed (scope)
                WHERE o.total <> 0
            ON CONFLICT (scope, user_id) DO UPDATE SET points = t.points + excluded.points
            RETURNING t.scope, t.user_id, t.points
    ), badged AS (  -- the answer count's thresholds crossed, the streak's reached
        INSERT INTO user_badges (user_id, badge, earned_at)
            SELECT o.user_id, b.badge, o.created_at
            FROM totals o, unnest(o.badges::TEXT[], o.badge_counters::TEXT[], o.badge_at_least::BIGINT[])
                AS b (badge, counter, at_least)
            WHERE (b.counter = 'answers' AND o.answers - 1 < b.at_least AND b.at_least <= o.answers)
                OR (b.counter = 'streak' AND b.at_least = o.streak_days)
            ON CONFLICT DO NOTHING RETURNING user_id, badge
    )
    SELECT COALESCE(g.status, CASE WHEN o.n IS NULL THEN 'already_answered' ELSE 'recorded' END),
        o.answer_id, o.total, o.streak_days::BIGINT, o.bonus, o.award < o.delta,
        (SELECT array_agg(s.scope ORDER BY s.scope) FROM scored s WHERE s.user_id = o.user_id),
        (SELECT array_agg(s.points ORDER BY s.scope) FROM scored s WHERE s.user_id = o.user_id),
        COALESCE((SELECT array_agg(b.badge ORDER BY b.k)
            FROM unnest(o.badges::TEXT[]) WITH ORDINALITY AS b (badge, k)
            WHERE EXISTS (SELECT 1 FROM badged x WHERE x.user_id = o.user_id AND x.badge = b.badge)), '{}')
    FROM given g LEFT JOIN totals o ON o.n = g.n
    ORDER BY g.n;
END;
$$;
