package moto

import (
	"context"
	"encoding/xml"
	"errors"
	"net/url"
)

// DefaultVPC returns the default VPC moto creates in us-east-1 and its
// subnets (one per availability zone), for load balancers and target groups.
// It goes through EC2's query API, as the project has no EC2 SDK module.
func (s *Server) DefaultVPC(ctx context.Context) (vpcID string, subnets []string, err error) {
	body, err := s.Query(ctx, "ec2", url.Values{
		"Action": {"DescribeSubnets"}, "Version": {"2016-11-15"},
		"Filter.1.Name": {"default-for-az"}, "Filter.1.Value.1": {"true"},
	})
	if err != nil {
		return "", nil, err
	}
	var out struct {
		Subnets []struct {
			ID  string `xml:"subnetId"`
			VPC string `xml:"vpcId"`
		} `xml:"subnetSet>item"`
	}
	if err := xml.Unmarshal(body, &out); err != nil {
		return "", nil, err
	}
	if len(out.Subnets) == 0 {
		return "", nil, errors.New("moto reported no default subnets")
	}
	for _, sn := range out.Subnets {
		subnets = append(subnets, sn.ID)
	}
	return out.Subnets[0].VPC, subnets, nil
}
