-- Every training dataset version exported, with its window, size, hash and where it lives.
select dataset, dataset_version, window_start, window_end, rows, content_hash, path, card,
    as_of_ts, trade_date
from {{ source('ml', 'dataset_versions') }}
where {{ on_day() }}
