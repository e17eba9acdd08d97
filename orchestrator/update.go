package orchestrator

import (
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Update orders and failure actions of deploy.update_config.
const (
	OrderStartFirst = "start-first"
	OrderStopFirst  = "stop-first"

	FailureRollback = "rollback"
	FailurePause    = "pause"
	FailureContinue = "continue"
)

// UpdateConfig is a resolved deploy.update_config or rollback_config.
type UpdateConfig struct {
	// Parallelism is how many slots change at once; at least 1.
	Parallelism int
	// Delay is the pause between two batches.
	Delay time.Duration
	// Order is OrderStartFirst (a new instance is ready before the old one
	// leaves its front door) or OrderStopFirst.
	Order string
	// FailureAction is FailureRollback, FailurePause or FailureContinue.
	FailureAction string
	// Monitor is how long each batch's new instances are watched for a
	// crash after they became ready.
	Monitor time.Duration
	// MaxFailureRatio is the share of slots that may fail before
	// FailureAction applies.
	MaxFailureRatio float64
}

// resolveUpdate applies the defaults to a compose update_config: one slot
// at a time, start-first, rollback on failure, no monitor period. A
// parallelism of 0 means every slot at once, as in Docker Swarm.
func resolveUpdate(cfg *types.UpdateConfig, count int) UpdateConfig {
	u := UpdateConfig{Parallelism: 1, Order: OrderStartFirst, FailureAction: FailureRollback}
	if cfg == nil {
		return u
	}
	if cfg.Parallelism != nil {
		u.Parallelism = int(*cfg.Parallelism)
		if u.Parallelism == 0 {
			u.Parallelism = max(count, 1)
		}
	}
	if cfg.Order != "" {
		u.Order = cfg.Order
	}
	if cfg.FailureAction != "" {
		u.FailureAction = cfg.FailureAction
	}
	u.Delay = time.Duration(cfg.Delay)
	u.Monitor = time.Duration(cfg.Monitor)
	u.MaxFailureRatio = float64(cfg.MaxFailureRatio)
	return u
}

// updateConfigs returns a service's update and rollback configurations.
func updateConfigs(cfg types.ServiceConfig, count int) (update, rollback UpdateConfig) {
	if cfg.Deploy == nil {
		return resolveUpdate(nil, count), resolveUpdate(nil, count)
	}
	update = resolveUpdate(cfg.Deploy.UpdateConfig, count)
	rollback = resolveUpdate(cfg.Deploy.RollbackConfig, count)
	if cfg.Deploy.RollbackConfig == nil {
		rollback.Parallelism, rollback.Order = update.Parallelism, update.Order
	}
	// A rollback that fails has nothing to roll back to; it goes on.
	rollback.FailureAction = FailureContinue
	return update, rollback
}

// Batches splits the slots to replace into batches of at most parallelism
// slots, lowest slots first. It is the rollout plan: each batch is
// replaced completely before the next one starts.
func Batches(slots []int, parallelism int) [][]int {
	sorted := slices.Sorted(slices.Values(slots))
	parallelism = max(parallelism, 1)
	var batches [][]int
	for len(sorted) > 0 {
		n := min(parallelism, len(sorted))
		batches = append(batches, sorted[:n:n])
		sorted = sorted[n:]
	}
	return batches
}
