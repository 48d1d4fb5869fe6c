package moto

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// CreateTargetGroup creates an HTTP target group of IP targets on port 8080
// in vpc and returns its ARN. AWS answers a repeated create with the same
// settings with the group itself; moto refuses it as a duplicate, which a
// retry by the SDK after a slow answer (a loaded machine) runs into: the
// group is then read back.
func CreateTargetGroup(ctx context.Context, c *elasticloadbalancingv2.Client, name, vpc string) (string, error) {
	tg, err := c.CreateTargetGroup(ctx, &elasticloadbalancingv2.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		VpcId: aws.String(vpc), TargetType: types.TargetTypeEnumIp,
	})
	var dup *types.DuplicateTargetGroupNameException
	if errors.As(err, &dup) {
		out, derr := c.DescribeTargetGroups(ctx, &elasticloadbalancingv2.DescribeTargetGroupsInput{Names: []string{name}})
		if derr != nil || len(out.TargetGroups) != 1 {
			return "", fmt.Errorf("%w; and reading it back: %v", err, derr)
		}
		return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(tg.TargetGroups[0].TargetGroupArn), nil
}
