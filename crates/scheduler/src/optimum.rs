//! The exact reference: a minimum-cost assignment of tasks to node slots (the Hungarian
//! algorithm in its shortest-augmenting-path form with potentials, O(n²·m) for n tasks and m
//! columns). The engine places greedily, one task at a time; this solver sees the whole instance
//! at once, so the difference between their total costs is what greediness costs (issue 6
//! point 4). It is meant for instances up to about 1,000 × 1,000.
//!
//! Every task may also stay unplaced, at `unplaced_cost`: with that above any real cost the
//! optimum first places as many tasks as possible, then places them as cheaply as possible.

/// The optimum: for each task, the column it takes (`None`: unplaced), and the total cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Per task, the column index.
    pub columns: Vec<Option<usize>>,
    /// Σ costs of the placed tasks + `unplaced_cost` × the unplaced ones.
    pub total: i64,
}

/// Minimum-cost assignment of `tasks` tasks to `columns` columns of capacity one, where
/// `cost(task, column)` is `None` when the task may not use the column.
///
/// # Panics
/// If a cost or `unplaced_cost` is negative or above 2⁴⁰ (sums must stay far from overflow).
pub fn assign(
    tasks: usize,
    columns: usize,
    cost: impl Fn(usize, usize) -> Option<i64>,
    unplaced_cost: i64,
) -> Assignment {
    const LIMIT: i64 = 1 << 40;
    assert!(
        (0..=LIMIT).contains(&unplaced_cost),
        "unplaced cost out of range"
    );
    // Columns: the real ones, then one "unplaced" column per task. A forbidden pair costs more
    // than leaving the task unplaced, so the optimum never uses one.
    let forbidden = unplaced_cost.saturating_mul(2).saturating_add(1);
    let width = columns + tasks;
    let matrix = |task: usize, column: usize| -> i64 {
        if column < columns {
            match cost(task, column) {
                Some(value) => {
                    assert!((0..=LIMIT).contains(&value), "cost out of range");
                    value
                }
                None => forbidden,
            }
        } else if column - columns == task {
            unplaced_cost
        } else {
            forbidden
        }
    };
    // 1-based arrays as in the classic formulation: p[j] is the task in column j (0: none).
    let mut u = vec![0i64; tasks + 1];
    let mut v = vec![0i64; width + 1];
    let mut p = vec![0usize; width + 1];
    let mut way = vec![0usize; width + 1];
    for task in 1..=tasks {
        p[0] = task;
        let mut j0 = 0usize;
        let mut minv = vec![i64::MAX; width + 1];
        let mut used = vec![false; width + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = i64::MAX;
            let mut j1 = 0usize;
            for j in 1..=width {
                if used[j] {
                    continue;
                }
                let current = matrix(i0 - 1, j - 1) - u[i0] - v[j];
                if current < minv[j] {
                    minv[j] = current;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for j in 0..=width {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assigned = vec![None; tasks];
    let mut total = 0i64;
    for (column, &task) in p.iter().enumerate().skip(1) {
        if task == 0 {
            continue;
        }
        total += matrix(task - 1, column - 1);
        if column - 1 < columns {
            assigned[task - 1] = Some(column - 1);
        }
    }
    Assignment {
        columns: assigned,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every way of giving each task a distinct column or none: the brute-force reference.
    fn brute_force(costs: &[Vec<Option<i64>>], columns: usize, unplaced: i64) -> i64 {
        fn go(
            task: usize,
            costs: &[Vec<Option<i64>>],
            taken: &mut Vec<bool>,
            unplaced: i64,
        ) -> i64 {
            if task == costs.len() {
                return 0;
            }
            let mut best = unplaced + go(task + 1, costs, taken, unplaced);
            for column in 0..taken.len() {
                if let (false, Some(cost)) = (taken[column], costs[task][column]) {
                    taken[column] = true;
                    best = best.min(cost + go(task + 1, costs, taken, unplaced));
                    taken[column] = false;
                }
            }
            best
        }
        go(0, costs, &mut vec![false; columns], unplaced)
    }

    proptest! {
        #[test]
        fn the_assignment_is_optimal_and_valid(
            tasks in 1usize..6,
            columns in 0usize..6,
            seed in proptest::collection::vec(proptest::option::weighted(0.7, 0i64..100), 36),
        ) {
            let costs: Vec<Vec<Option<i64>>> = (0..tasks)
                .map(|task| (0..columns).map(|column| seed[task * 6 + column]).collect())
                .collect();
            let unplaced = 150;
            let found = assign(tasks, columns, |task, column| costs[task][column], unplaced);
            prop_assert_eq!(found.total, brute_force(&costs, columns, unplaced));
            let mut seen = vec![false; columns];
            let mut total = 0;
            for (task, column) in found.columns.iter().enumerate() {
                match column {
                    Some(column) => {
                        prop_assert!(!seen[*column], "column used twice");
                        seen[*column] = true;
                        total += costs[task][*column].expect("an allowed pair");
                    }
                    None => total += unplaced,
                }
            }
            prop_assert_eq!(total, found.total);
        }
    }

    #[test]
    fn a_scarce_column_goes_to_the_task_that_needs_it() {
        // Task 0 can use either column; task 1 only column 0. Greedy in order would give task 0
        // column 0 (cheaper for it) and leave task 1 out; the optimum does not.
        let costs = [[Some(1), Some(2)], [Some(1), None]];
        let found = assign(2, 2, |task, column| costs[task][column], 1_000);
        assert_eq!(found.columns, vec![Some(1), Some(0)]);
        assert_eq!(found.total, 3);
    }
}
