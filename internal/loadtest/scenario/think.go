package scenario

import (
	"math/rand/v2"
	"time"

	"gopkg.in/yaml.v3"
)

// Distribution of a think time.
type Distribution string

// Think distributions: fixed is Artillery's `think: 5`; uniform and
// exponential model people who do not all pause alike.
const (
	Fixed       Distribution = "fixed"
	Uniform     Distribution = "uniform"
	Exponential Distribution = "exponential"
)

// Think is a pause of a virtual user.
type Think struct {
	Dist Distribution
	// Fixed: Min. Uniform: between Min and Max. Exponential: mean Mean.
	Min, Max, Mean time.Duration
}

// maxExpFactor caps an exponential draw at this many means, so one unlucky
// virtual user cannot outlive the test by hours.
const maxExpFactor = 10

// Draw returns one think time.
func (t Think) Draw(rng *rand.Rand) time.Duration {
	switch t.Dist {
	case Uniform:
		return t.Min + time.Duration(rng.Int64N(int64(t.Max-t.Min)+1))
	case Exponential:
		d := time.Duration(rng.ExpFloat64() * float64(t.Mean))
		return min(d, maxExpFactor*t.Mean)
	default:
		return t.Min
	}
}

// think reads `think: 5`, `think: 500ms`, `think: {uniform: [1, 3]}` or
// `think: {exponential: 2}` (its mean).
func (p *parser) think(n *yaml.Node) (Think, error) {
	if n.Kind == yaml.ScalarNode {
		d, err := p.seconds(n, "think")
		return Think{Dist: Fixed, Min: d}, err
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return Think{}, p.errf(n, "think is seconds, {uniform: [min, max]} or {exponential: mean}")
	}
	k, v := n.Content[0], n.Content[1]
	switch k.Value {
	case "fixed":
		d, err := p.seconds(v, "think")
		return Think{Dist: Fixed, Min: d}, err
	case "uniform":
		if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
			return Think{}, p.errf(v, "uniform think needs [min, max]")
		}
		lo, err := p.seconds(v.Content[0], "think min")
		if err != nil {
			return Think{}, err
		}
		hi, err := p.seconds(v.Content[1], "think max")
		if err != nil {
			return Think{}, err
		}
		if hi < lo {
			return Think{}, p.errf(v, "uniform think: max is below min")
		}
		return Think{Dist: Uniform, Min: lo, Max: hi}, nil
	case "exponential":
		d, err := p.seconds(v, "think mean")
		if err == nil && d <= 0 {
			err = p.errf(v, "exponential think needs a positive mean")
		}
		return Think{Dist: Exponential, Mean: d}, err
	}
	return Think{}, p.errf(k, "unknown think distribution %q (want fixed, uniform or exponential)", k.Value)
}
