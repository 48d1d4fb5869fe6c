package cloudwatch

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// resultID is the id of the query whose data answers.
const resultID = "result"

var (
	// idRe is a metric id definition "id=" (CloudWatch ids start lower case).
	idRe = regexp.MustCompile(`^([a-z][a-zA-Z0-9_]*)\s*=\s*(.*)$`)
	// statRe accepts statistics without a colon: Sum, Average, p99, p99.9, tm90 ...
	statRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]*$`)
)

// ParseExpr turns an expression (see the package doc) into GetMetricData
// queries; the one that answers has id "result". period is in seconds.
func ParseExpr(expr, namespace string, period int32) ([]types.MetricDataQuery, error) {
	parts := strings.Split(expr, ";")
	last := strings.TrimSpace(parts[len(parts)-1])
	if last == "" {
		return nil, fmt.Errorf("cloudwatch query %q: empty expression: want Namespace/MetricName:Stat[:Name=Value,...] or a metric math expression", expr)
	}
	var out []types.MetricDataQuery
	for _, part := range parts[:len(parts)-1] {
		m := idRe.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return nil, fmt.Errorf("cloudwatch query %q: %q: every part but the last must be id=Namespace/MetricName:Stat[:dims], ids starting lower case", expr, part)
		}
		ms, err := parseMetric(m[2], namespace, period)
		if err != nil {
			return nil, fmt.Errorf("cloudwatch query %q: %s: %w", expr, m[1], err)
		}
		if m[1] == resultID {
			return nil, fmt.Errorf("cloudwatch query %q: id %q is reserved", expr, resultID)
		}
		out = append(out, types.MetricDataQuery{Id: aws.String(m[1]), MetricStat: ms, ReturnData: aws.Bool(false)})
	}
	if len(out) == 0 && isMetric(last) {
		ms, err := parseMetric(last, namespace, period)
		if err != nil {
			return nil, fmt.Errorf("cloudwatch query %q: %w", expr, err)
		}
		return []types.MetricDataQuery{{Id: aws.String(resultID), MetricStat: ms, ReturnData: aws.Bool(true)}}, nil
	}
	return append(out, types.MetricDataQuery{Id: aws.String(resultID), Expression: aws.String(last), Period: aws.Int32(period), ReturnData: aws.Bool(true)}), nil
}

// isMetric tells a metric ("Ns/Name:Stat...") from a math expression.
func isMetric(s string) bool {
	path, rest, ok := strings.Cut(s, ":")
	if !ok || path == "" || strings.ContainsAny(path, " ()'\"") {
		return false
	}
	stat, _, _ := strings.Cut(rest, ":")
	return statRe.MatchString(strings.TrimSpace(stat))
}

// parseMetric parses "[Namespace/]MetricName:Stat[:Name=Value,...]".
func parseMetric(s, namespace string, period int32) (*types.MetricStat, error) {
	fields := strings.SplitN(strings.TrimSpace(s), ":", 3)
	if len(fields) < 2 {
		return nil, fmt.Errorf("%q: want [Namespace/]MetricName:Stat[:Name=Value,...]", s)
	}
	path, stat := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1])
	ns, name := namespace, path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	if ns == "" || name == "" {
		return nil, fmt.Errorf("%q: no namespace: write Namespace/MetricName or set option %s", s, OptNamespace)
	}
	if !statRe.MatchString(stat) {
		return nil, fmt.Errorf("%q: statistic %q: want Sum, Average, Minimum, Maximum, SampleCount or a percentile like p99", s, stat)
	}
	m := &types.Metric{Namespace: aws.String(ns), MetricName: aws.String(name)}
	if len(fields) == 3 && strings.TrimSpace(fields[2]) != "" {
		for _, d := range strings.Split(fields[2], ",") {
			k, v, ok := strings.Cut(d, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("%q: dimension %q: want Name=Value", s, d)
			}
			k, v = strings.TrimSpace(k), dimensionValue(strings.TrimSpace(k), strings.TrimSpace(v))
			m.Dimensions = append(m.Dimensions, types.Dimension{Name: aws.String(k), Value: aws.String(v)})
		}
	}
	return &types.MetricStat{Metric: m, Stat: aws.String(stat), Period: aws.Int32(period)}, nil
}

// dimensionValue turns an ELB ARN given as a TargetGroup or LoadBalancer
// dimension into the form CloudWatch files the metrics under, so the alb
// preset can use the router's own ARNs: a target group's
// "targetgroup/NAME/ID", a load balancer's "app/NAME/ID" (from the load
// balancer's ARN or one of its listeners').
func dimensionValue(name, v string) string {
	if !strings.HasPrefix(v, "arn:") {
		return v
	}
	res := v[strings.LastIndex(v, ":")+1:]
	switch name {
	case "TargetGroup":
		return res
	case "LoadBalancer":
		parts := strings.Split(res, "/")
		if len(parts) >= 4 && (parts[0] == "loadbalancer" || parts[0] == "listener") {
			return strings.Join(parts[1:4], "/")
		}
	}
	return v
}
