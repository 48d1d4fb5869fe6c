output "alb_dns_name" {
  description = "DNS name of the load balancer: point a CNAME (or a Route 53 alias with alb_zone_id) at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone id of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "listener_arn" {
  description = "ARN of the listener whose weighted forward action splits traffic between the slots; runbook's alb traffic router modifies this listener."
  value       = aws_lb_listener.this.arn
}

output "target_group_arns" {
  description = "ARNs of the target groups by slot: { blue = ..., green = ... }."
  value       = { for slot, tg in aws_lb_target_group.slot : slot => tg.arn }
}

output "blue_target_group_arn" {
  description = "ARN of the blue target group."
  value       = aws_lb_target_group.slot["blue"].arn
}

output "green_target_group_arn" {
  description = "ARN of the green target group."
  value       = aws_lb_target_group.slot["green"].arn
}

output "security_group_id" {
  description = "Security group of the load balancer: allow it in the targets' security groups on the application port."
  value       = aws_security_group.alb.id
}
